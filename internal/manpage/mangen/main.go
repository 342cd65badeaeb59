// Command mangen writes o2cb-ra's manual pages into a directory, made
// from the programs' own declarations: ocf_ocfs2_<agent>(7) for each OCF
// agent, o2cb-ra(8) and o2cb-ra-ocfs2_hb_ctl(8).
//
//	go run ./internal/manpage/mangen -out DIR -version V [-date YYYY-MM-DD]
//
// The date defaults to SOURCE_DATE_EPOCH's, else today's (UTC), so that
// a package build is reproducible.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/command"
	"github.com/o2cb-ra/o2cb-ra/internal/hbctl"
	"github.com/o2cb-ra/o2cb-ra/internal/manpage"
)

func main() {
	out := flag.String("out", "", "directory to write the pages into (PAGE.SECTION files)")
	ver := flag.String("version", "dev", "the version the pages name")
	date := flag.String("date", "", "the pages' date, YYYY-MM-DD (default: SOURCE_DATE_EPOCH's, else today's)")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mangen -out DIR [-version V] [-date YYYY-MM-DD]")
		os.Exit(2)
	}
	d, err := pageDate(*date, os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(2)
	}
	pages := pages("o2cb-ra "+*ver, d)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
	for _, p := range pages {
		path := filepath.Join(*out, p.Name+"."+p.Section)
		if err := os.WriteFile(path, p.Roff(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "mangen:", err)
			os.Exit(1)
		}
		fmt.Println(path)
	}
}

// pages are every page, naming source and date.
func pages(source, date string) []*manpage.Page {
	ps := []*manpage.Page{command.ManPage(source, date), hbctl.ManPage(source, date)}
	for _, n := range command.AgentNames() {
		ps = append(ps, manpage.AgentPage(command.Agents[n](), command.OCFProvider, source, date))
	}
	return ps
}

// pageDate is flagged, else the date of epoch (seconds), else today.
func pageDate(flagged, epoch string) (string, error) {
	if flagged != "" {
		if _, err := time.Parse(time.DateOnly, flagged); err != nil {
			return "", fmt.Errorf("-date %q: want YYYY-MM-DD", flagged)
		}
		return flagged, nil
	}
	if epoch != "" {
		s, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return "", fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", epoch)
		}
		return time.Unix(s, 0).UTC().Format(time.DateOnly), nil
	}
	return time.Now().UTC().Format(time.DateOnly), nil
}
