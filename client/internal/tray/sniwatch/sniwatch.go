// Package sniwatch is a small org.kde.StatusNotifierWatcher for tests: it
// takes the watcher's name on a (private) session bus, records the status
// notifier items that register, and reads and clicks their menus through
// com.canonical.dbusmenu, as a desktop's tray would. Real desktops
// (KDE, GNOME with the AppIndicator extension) provide the watcher. It also
// has a stand-in notification server (org.freedesktop.Notifications) that
// records what apps send.
package sniwatch

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

const (
	watcherName  = "org.kde.StatusNotifierWatcher"
	watcherPath  = "/StatusNotifierWatcher"
	itemIface    = "org.kde.StatusNotifierItem"
	menuIface    = "com.canonical.dbusmenu"
	defaultMenu  = dbus.ObjectPath("/StatusNotifierMenu")
	defaultItem  = dbus.ObjectPath("/StatusNotifierItem")
	propertyGet  = "org.freedesktop.DBus.Properties.Get"
	watcherIface = watcherName
)

// Item is a registered status notifier item.
type Item struct {
	Service string          // the bus name that registered it
	Path    dbus.ObjectPath // the item's object path
}

// Watcher is the stand-in. It is safe for concurrent use.
type Watcher struct {
	conn *dbus.Conn // constant after construction

	mu      sync.Mutex // guards items
	items   []Item
	changed chan struct{} // closed and replaced when items change
}

// Start connects to the session bus named by DBUS_SESSION_BUS_ADDRESS and
// serves the watcher there. It fails when another watcher owns the name.
func Start() (*Watcher, error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil, fmt.Errorf("connect to the session bus: %w", err)
	}
	w := &Watcher{conn: conn, changed: make(chan struct{})}
	if err := conn.Export(w.methods(), watcherPath, watcherIface); err != nil {
		conn.Close()
		return nil, fmt.Errorf("export the watcher: %w", err)
	}
	_, err = prop.Export(conn, watcherPath, prop.Map{watcherIface: {
		"IsStatusNotifierHostRegistered": {Value: true, Emit: prop.EmitFalse},
		"ProtocolVersion":                {Value: int32(0), Emit: prop.EmitFalse},
		"RegisteredStatusNotifierItems":  {Value: []string{}, Emit: prop.EmitFalse},
	}})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("export the watcher's properties: %w", err)
	}
	reply, err := conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("request %s: %w", watcherName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		return nil, fmt.Errorf("another process owns %s", watcherName)
	}
	return w, nil
}

// Close leaves the bus.
func (w *Watcher) Close() error { return w.conn.Close() }

// methods is the exported object: godbus passes the caller's name as the
// dbus.Sender argument.
type methods struct{ w *Watcher }

func (w *Watcher) methods() methods { return methods{w} }

// RegisterStatusNotifierItem is the watcher method items call. service is
// an object path (what libappindicator and fyne's systray send) or a bus
// name (then the item sits at /StatusNotifierItem).
func (m methods) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	it := Item{Service: string(sender), Path: defaultItem}
	if strings.HasPrefix(service, "/") {
		it.Path = dbus.ObjectPath(service)
	} else if service != "" {
		it.Service = service
	}
	m.w.mu.Lock()
	m.w.items = append(m.w.items, it)
	close(m.w.changed)
	m.w.changed = make(chan struct{})
	m.w.mu.Unlock()
	return nil
}

// RegisterStatusNotifierHost accepts a host; the stand-in is its own host.
func (m methods) RegisterStatusNotifierHost(service string) *dbus.Error { return nil }

// Items returns the items registered so far.
func (w *Watcher) Items() []Item {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Item(nil), w.items...)
}

// WaitItem waits for the first item to register.
func (w *Watcher) WaitItem(ctx context.Context) (Item, error) {
	for {
		w.mu.Lock()
		if len(w.items) > 0 {
			it := w.items[0]
			w.mu.Unlock()
			return it, nil
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Item{}, fmt.Errorf("wait for a status notifier item: %w", ctx.Err())
		}
	}
}

// Property reads one org.kde.StatusNotifierItem property of it.
func (w *Watcher) Property(ctx context.Context, it Item, name string) (dbus.Variant, error) {
	var v dbus.Variant
	err := w.conn.Object(it.Service, it.Path).CallWithContext(ctx, propertyGet, 0, itemIface, name).Store(&v)
	if err != nil {
		return v, fmt.Errorf("read %s of %s: %w", name, it.Service, err)
	}
	return v, nil
}

// MenuNode is one entry of a dbusmenu layout.
type MenuNode struct {
	ID       int32
	Label    string
	Type     string // "separator" or ""
	Enabled  bool
	Visible  bool
	Toggle   int32 // toggle-state: 1 checked, 0 not, -1 none
	Children []MenuNode
}

// menuPath asks the item where its menu is.
func (w *Watcher) menuPath(ctx context.Context, it Item) dbus.ObjectPath {
	v, err := w.Property(ctx, it, "Menu")
	if err != nil {
		return defaultMenu
	}
	if p, ok := v.Value().(dbus.ObjectPath); ok && p != "" {
		return p
	}
	return defaultMenu
}

// Layout reads the item's whole menu (GetLayout from the root).
func (w *Watcher) Layout(ctx context.Context, it Item) (MenuNode, error) {
	obj := w.conn.Object(it.Service, w.menuPath(ctx, it))
	call := obj.CallWithContext(ctx, menuIface+".GetLayout", 0, int32(0), int32(-1), []string{})
	if call.Err != nil {
		return MenuNode{}, fmt.Errorf("GetLayout of %s: %w", it.Service, call.Err)
	}
	if len(call.Body) != 2 {
		return MenuNode{}, fmt.Errorf("GetLayout of %s: %d values in the reply, want 2", it.Service, len(call.Body))
	}
	return decodeNode(call.Body[1])
}

// decodeNode turns a (ia{sv}av) structure into a MenuNode.
func decodeNode(v any) (MenuNode, error) {
	if vv, ok := v.(dbus.Variant); ok {
		v = vv.Value()
	}
	fields, ok := v.([]any)
	if !ok || len(fields) != 3 {
		return MenuNode{}, fmt.Errorf("menu node is %T, want (ia{sv}av)", v)
	}
	id, ok1 := fields[0].(int32)
	props, ok2 := fields[1].(map[string]dbus.Variant)
	kids, ok3 := fields[2].([]dbus.Variant)
	if !ok1 || !ok2 || !ok3 {
		return MenuNode{}, fmt.Errorf("menu node fields are %T, %T, %T", fields[0], fields[1], fields[2])
	}
	n := MenuNode{ID: id, Enabled: true, Visible: true, Toggle: -1}
	if l, ok := props["label"].Value().(string); ok {
		n.Label = l
	}
	if t, ok := props["type"].Value().(string); ok {
		n.Type = t
	}
	if e, ok := props["enabled"].Value().(bool); ok {
		n.Enabled = e
	}
	if e, ok := props["visible"].Value().(bool); ok {
		n.Visible = e
	}
	if s, ok := props["toggle-state"].Value().(int32); ok {
		n.Toggle = s
	}
	for _, k := range kids {
		c, err := decodeNode(k)
		if err != nil {
			return MenuNode{}, err
		}
		n.Children = append(n.Children, c)
	}
	return n, nil
}

// Find returns the first visible node labelled label under n.
func (n MenuNode) Find(label string) (MenuNode, bool) {
	for _, c := range n.Children {
		if c.Visible && c.Label == label {
			return c, true
		}
		if f, ok := c.Find(label); ok {
			return f, true
		}
	}
	return MenuNode{}, false
}

// Labels returns the visible labels under n, separators as "--".
func (n MenuNode) Labels() []string {
	var out []string
	for _, c := range n.Children {
		if !c.Visible {
			continue
		}
		if c.Type == "separator" {
			out = append(out, "--")
			continue
		}
		out = append(out, c.Label)
	}
	return out
}

// Click sends the "clicked" event for menu entry id, as a tray does when
// the user picks it.
func (w *Watcher) Click(ctx context.Context, it Item, id int32) error {
	obj := w.conn.Object(it.Service, w.menuPath(ctx, it))
	call := obj.CallWithContext(ctx, menuIface+".Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix()))
	if call.Err != nil {
		return fmt.Errorf("click menu entry %d of %s: %w", id, it.Service, call.Err)
	}
	return nil
}
