package version

import "testing"

func TestGetVersionString(t *testing.T) {
	defer func(v, c, tag, s string) { version, gitCommit, gitTag, gitTreeState = v, c, tag, s }(version, gitCommit, gitTag, gitTreeState)
	for _, tc := range []struct{ version, commit, tag, state, want string }{
		{"99.99.99", "", "", "", "v99.99.99+unknown"},
		{"99.99.99", "0123456789abcdef", "", "clean", "v99.99.99+0123456"},
		{"1.2.0", "0123456789abcdef", "", "dirty", "v1.2.0+0123456.dirty"},
		{"1.2.0", "0123456789abcdef", "v1.2.0", "dirty", "v1.2.0+0123456.dirty"},
		{"1.2.0", "0123456789abcdef", "v1.2.0", "clean", "v1.2.0"},
	} {
		version, gitCommit, gitTag, gitTreeState = tc.version, tc.commit, tc.tag, tc.state
		if got := Get().Version; got != tc.want {
			t.Errorf("%+v: version %q, want %q", tc, got, tc.want)
		}
	}
}
