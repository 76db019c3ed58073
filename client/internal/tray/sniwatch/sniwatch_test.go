package sniwatch

import (
	"slices"
	"testing"

	"github.com/godbus/dbus/v5"
)

func node(id int32, props map[string]dbus.Variant, kids ...any) []any {
	var vs []dbus.Variant
	for _, k := range kids {
		vs = append(vs, dbus.MakeVariant(k))
	}
	if vs == nil {
		vs = []dbus.Variant{}
	}
	return []any{id, props, vs}
}

func TestDecodeLayout(t *testing.T) {
	root := node(0, map[string]dbus.Variant{"children-display": dbus.MakeVariant("submenu")},
		node(1, map[string]dbus.Variant{"label": dbus.MakeVariant("Up to date"), "enabled": dbus.MakeVariant(false)}),
		node(2, map[string]dbus.Variant{"type": dbus.MakeVariant("separator")}),
		node(3, map[string]dbus.Variant{"label": dbus.MakeVariant("Pause uploads"), "toggle-state": dbus.MakeVariant(int32(1))}),
		node(4, map[string]dbus.Variant{"label": dbus.MakeVariant("Hidden"), "visible": dbus.MakeVariant(false)}),
		node(5, map[string]dbus.Variant{"label": dbus.MakeVariant("More")},
			node(6, map[string]dbus.Variant{"label": dbus.MakeVariant("Open Mapdrive")})),
	)
	n, err := decodeNode(root)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.Labels(), []string{"Up to date", "--", "Pause uploads", "More"}; !slices.Equal(got, want) {
		t.Errorf("Labels = %q, want %q", got, want)
	}
	if n.Children[0].Enabled || n.Children[2].Toggle != 1 {
		t.Errorf("flags: enabled %v, toggle %d; want false, 1", n.Children[0].Enabled, n.Children[2].Toggle)
	}
	if f, ok := n.Find("Open Mapdrive"); !ok || f.ID != 6 {
		t.Errorf("Find(Open Mapdrive) = %+v, %v; want id 6", f, ok)
	}
	if _, ok := n.Find("Hidden"); ok {
		t.Errorf("Find found an invisible entry")
	}
	for _, bad := range []any{"x", []any{int32(1)}, []any{"id", map[string]dbus.Variant{}, []dbus.Variant{}}} {
		if _, err := decodeNode(bad); err == nil {
			t.Errorf("decodeNode(%v) succeeded, want an error", bad)
		}
	}
}
