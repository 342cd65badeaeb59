package hbctl

import "fmt"

// option is one parsed option: its letter and, for options that take
// one, its argument.
type option struct {
	Name byte
	Arg  string
}

// getopt parses args as getopt(3) does with GNU argument permutation:
// spec lists the option letters, a letter followed by ':' takes an
// argument. Options may be combined (-Ld /dev/x), an argument may be
// attached (-d/dev/x) or be the next word (-d /dev/x, even when that word
// starts with '-'), operands may come before, between or after options,
// "--" ends the options and "-" alone is an operand.
func getopt(args []string, spec string) (opts []option, operands []string, err error) {
	takesArg := func(c byte) (known, arg bool) {
		for i := 0; i < len(spec); i++ {
			if spec[i] == c && c != ':' {
				return true, i+1 < len(spec) && spec[i+1] == ':'
			}
		}
		return false, false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			known, hasArg := takesArg(c)
			if !known {
				return nil, nil, fmt.Errorf("unknown option -%c", c)
			}
			if !hasArg {
				opts = append(opts, option{Name: c})
				continue
			}
			if j+1 < len(a) {
				opts = append(opts, option{Name: c, Arg: a[j+1:]})
			} else if i+1 < len(args) {
				i++
				opts = append(opts, option{Name: c, Arg: args[i]})
			} else {
				return nil, nil, fmt.Errorf("option -%c needs an argument", c)
			}
			break
		}
	}
	return opts, operands, nil
}
