package command

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/o2cb-ra/o2cb-ra/internal/clusterconf"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/metrics"
)

var metricsCommand = &cli.Command{
	Name:  "metrics",
	Usage: "print the heartbeat daemon's status as Prometheus metrics (text format, for node_exporter's textfile collector)",
	Flags: []cli.Flag{
		runDirFlag, confFlag,
		&cli.DurationFlag{Name: "timeout", Value: time.Second, Usage: "how long to wait for the daemon"},
	},
	Action: func(c *cli.Context) error {
		st, err := askStatus(c)
		if errors.Is(err, hbclient.ErrNotRunning) {
			// A daemon that is not running is a figure too: up 0.
			return metrics.Write(c.App.Writer, nil, nil)
		}
		if err != nil {
			return err
		}
		nodes, err := clusterNodes(c.String("cluster-conf"), st.Cluster)
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "o2cb-ra: warning: %v; only live nodes get a region_node_live series\n", err)
		}
		return metrics.Write(c.App.Writer, st, nodes)
	},
}

// clusterNodes are the nodes of cluster in the cluster.conf at path.
func clusterNodes(path, cluster string) ([]metrics.Node, error) {
	conf, err := clusterconf.Load(path)
	if err != nil {
		return nil, err
	}
	cl, err := conf.Cluster(cluster)
	if err != nil {
		return nil, err
	}
	var nodes []metrics.Node
	for _, n := range cl.Nodes() {
		nodes = append(nodes, metrics.Node{Name: n.Name, Number: n.Number})
	}
	return nodes, nil
}
