package ocf

import (
	"bytes"
	"testing"
)

// FuzzParams gives every parameter type arbitrary values: the agent never
// panics, and either runs or fails with OCF_ERR_CONFIGURED and one reason.
func FuzzParams(f *testing.F) {
	f.Add("x", "5", "yes", "10s")
	f.Add("", "-1", "maybe", "soon")
	f.Add("\x00", "99999999999999999999", "ON", "1h2m")
	f.Fuzz(func(t *testing.T, req, n, b, d string) {
		env := MapEnv{"OCF_RESKEY_req": req, "OCF_RESKEY_n": n, "OCF_RESKEY_b": b, "OCF_RESKEY_d": d}
		var out, errOut bytes.Buffer
		code := testAgent(func(*Context) error { return nil }).Main([]string{"start"}, env, &out, &errOut)
		switch code {
		case Success:
		case ErrConfigured:
			if bytes.Count(errOut.Bytes(), []byte("ocf-exit-reason:")) != 1 {
				t.Fatalf("want one exit reason, got %q", errOut.String())
			}
		default:
			t.Fatalf("exit %d for %q %q %q %q", code, req, n, b, d)
		}
	})
}
