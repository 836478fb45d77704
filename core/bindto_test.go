package core

import "testing"

func TestLocalAddrPort(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"127.0.0.2", "127.0.0.2:0", true},
		{"127.0.0.2:8080", "127.0.0.2:8080", true},
		{":8080", "invalid AddrPort", true},
		{"::1", "[::1]:0", true},
		{"[::1]", "[::1]:0", true},
		{"[::1]:99", "[::1]:99", true},
		{"[fe80::1%lo]:0", "[fe80::1%lo]:0", true},
		{"localhost", "", false},
		{"localhost:80", "", false},
		{"127.0.0.1:x", "", false},
		{"127.0.0.1:70000", "", false},
	} {
		ap, err := LocalAddrPort(tc.in)
		if (err == nil) != tc.ok || tc.ok && ap.String() != tc.want {
			t.Errorf("LocalAddrPort(%q) = %v, %v", tc.in, ap, err)
		}
	}
	if ap, _ := LocalAddrPort(":8080"); ap.Port() != 8080 || ap.Addr().IsValid() {
		t.Errorf(":8080 gives %v", ap)
	}
}
