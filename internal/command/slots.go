package command

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

var slotsCommand = &cli.Command{
	Name:      "slots",
	Usage:     "print the heartbeat slots of an OCFS2 volume as they are on disk",
	ArgsUsage: "DEVICE",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Usage: "also print slots never written (seq 0)"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() != 1 {
			return cli.Exit("slots: give one device or image", 2)
		}
		path := c.Args().First()
		spec, err := backend.Inspect(path)
		if err != nil {
			return err
		}
		g := spec.Geometry
		f, err := hbdisk.OpenDirectReadOnly(path)
		if err != nil {
			return err
		}
		defer f.Close()
		slots, err := hbdisk.ReadSlots(f, g, 0, g.Blocks-1)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		w := c.App.Writer
		fmt.Fprintf(w, "region %s on %s: label %q, block_bytes %d, start_block %d, %d slots\n",
			spec.UUID, path, spec.Label, g.BlockBytes, g.StartBlock, g.Blocks)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "node\tseq\tgeneration\tdead_ms\tchecksum\tblock")
		for n, s := range slots {
			if s.Seq() == 0 && !c.Bool("all") {
				continue
			}
			state := "valid"
			if err := s.Validate(n); err != nil {
				state = err.Error()
			} else if s.Seq() != 0 && s.Generation() == 0 {
				state = "valid, stopped cleanly"
			}
			fmt.Fprintf(tw, "%d\t%d\t%#016x\t%d\t%#08x\t%s\n", n, s.Seq(), s.Generation(), s.DeadMS(), s.StoredChecksum(), state)
		}
		return tw.Flush()
	},
}
