package sniwatch

import (
	"context"
	"fmt"
	"sync"

	"github.com/godbus/dbus/v5"
)

const (
	notifyName  = "org.freedesktop.Notifications"
	notifyPath  = "/org/freedesktop/Notifications"
	notifyIface = notifyName
)

// Notification is one desktop notification an app sent.
type Notification struct {
	App, Summary, Body string
}

// Notifications is a stand-in desktop notification server: it records
// what apps send to org.freedesktop.Notifications. It is safe for
// concurrent use.
type Notifications struct {
	conn *dbus.Conn // constant after construction

	mu      sync.Mutex // guards the fields below
	got     []Notification
	changed chan struct{}
}

// StartNotifications takes the notification server's name on the session
// bus named by DBUS_SESSION_BUS_ADDRESS.
func StartNotifications() (*Notifications, error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil, fmt.Errorf("connect to the session bus: %w", err)
	}
	n := &Notifications{conn: conn, changed: make(chan struct{})}
	if err := conn.Export(notifyMethods{n}, notifyPath, notifyIface); err != nil {
		conn.Close()
		return nil, fmt.Errorf("export the notification server: %w", err)
	}
	reply, err := conn.RequestName(notifyName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		conn.Close()
		return nil, fmt.Errorf("request %s: %v (reply %v)", notifyName, err, reply)
	}
	return n, nil
}

// Close leaves the bus.
func (n *Notifications) Close() error { return n.conn.Close() }

type notifyMethods struct{ n *Notifications }

// Notify records a notification (the Desktop Notifications spec's method).
func (m notifyMethods) Notify(app string, replaces uint32, icon, summary, body string,
	actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	m.n.mu.Lock()
	defer m.n.mu.Unlock()
	m.n.got = append(m.n.got, Notification{App: app, Summary: summary, Body: body})
	close(m.n.changed)
	m.n.changed = make(chan struct{})
	return uint32(len(m.n.got)), nil
}

// GetCapabilities answers what the stand-in can show: plain text.
func (m notifyMethods) GetCapabilities() ([]string, *dbus.Error) { return []string{"body"}, nil }

// GetServerInformation names the stand-in.
func (m notifyMethods) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "sniwatch", "mapdrive", "1", "1.2", nil
}

// CloseNotification accepts and ignores a close.
func (m notifyMethods) CloseNotification(id uint32) *dbus.Error { return nil }

// Received returns the notifications so far.
func (n *Notifications) Received() []Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Notification(nil), n.got...)
}

// Wait waits for a notification whose summary is summary.
func (n *Notifications) Wait(ctx context.Context, summary string) (Notification, error) {
	for {
		n.mu.Lock()
		for _, g := range n.got {
			if g.Summary == summary {
				n.mu.Unlock()
				return g, nil
			}
		}
		ch := n.changed
		n.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Notification{}, fmt.Errorf("wait for a %q notification (got %v): %w", summary, n.Received(), ctx.Err())
		}
	}
}
