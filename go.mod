module github.com/o2cb-ra/o2cb-ra

go 1.26.0

require golang.org/x/sys v0.49.0 // indirect
