package version

import "testing"

func TestUUID5(t *testing.T) {
	tests := []struct {
		ns, name, want string
	}{
		// RFC 4122 DNS namespace; the value Python's uuid.uuid5 and others give.
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com", "2ED6657D-E927-568B-95E1-2665A8AEA6A2"},
		{"6ba7b811-9dad-11d1-80b4-00c04fd430c8", "http://example.com/", "0A300EE9-F9E4-5697-A51A-EFC7FAFABA67"},
	}
	for _, tt := range tests {
		got, err := UUID5(tt.ns, tt.name)
		if err != nil {
			t.Fatalf("UUID5(%s, %q): %v", tt.ns, tt.name, err)
		}
		if got != tt.want {
			t.Errorf("UUID5(%s, %q) = %s, want %s", tt.ns, tt.name, got, tt.want)
		}
	}
	if _, err := UUID5("not-a-uuid", "x"); err == nil {
		t.Error("UUID5(not-a-uuid) succeeded, want an error")
	}
}

// TestProductCode pins the codes released packages carry: Intune detection
// rules in the field name them, so the derivation must never change.
func TestProductCode(t *testing.T) {
	tests := []struct{ in, msi, code string }{
		{"0.1.0", "0.1.0", "909E7FF2-2021-558E-8553-702C0BF1B14B"},
		{"0.1.0-rc1", "0.1.0", "909E7FF2-2021-558E-8553-702C0BF1B14B"},
		{"0.2.0", "0.2.0", "52918424-F917-5324-9516-AD9EA1DFB479"},
		{"1.10.3", "1.10.3", "3FCC5648-9046-5E66-A158-7DB9F0A571BE"},
	}
	for _, tt := range tests {
		if got := MSIVersion(tt.in); got != tt.msi {
			t.Errorf("MSIVersion(%s) = %s, want %s", tt.in, got, tt.msi)
		}
		if got := ProductCode(tt.in); got != tt.code {
			t.Errorf("ProductCode(%s) = %s, want %s", tt.in, got, tt.code)
		}
	}
}
