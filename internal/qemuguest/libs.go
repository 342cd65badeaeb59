package qemuguest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// SharedLibs returns the shared libraries and the dynamic loader a host
// program needs, as ldd lists them (absolute paths as the program looks
// them up). A static program has none.
func SharedLibs(prog string) ([]string, error) {
	out, err := exec.Command("ldd", prog).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return nil, nil
		}
		return nil, fmt.Errorf("ldd %s: %v\n%s", prog, err, out)
	}
	var libs []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[1] == "=>" && filepath.IsAbs(f[2]):
			libs = append(libs, f[2])
		case len(f) >= 1 && filepath.IsAbs(f[0]):
			libs = append(libs, f[0])
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return nil, fmt.Errorf("ldd %s: %s", prog, strings.TrimSpace(l))
		}
	}
	return libs, nil
}
