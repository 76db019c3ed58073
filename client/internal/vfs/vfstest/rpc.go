package vfstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"strings"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// The RPC bridge lets a Remote live in another process, so a test can
// SIGKILL the process that mounts the drive and start a new one against
// the same remote state.

var sentinels = []error{vfs.ErrNotFound, vfs.ErrExist, vfs.ErrNotEmpty, vfs.ErrNotDir, vfs.ErrIsDir,
	vfs.ErrAccessDenied, vfs.ErrReadOnly, vfs.ErrPreconditionFailed, vfs.ErrQuotaExceeded, vfs.ErrNameTooLong, vfs.ErrInvalidName,
	vfs.ErrResyncUploadDifferences, vfs.ErrResyncRequired, vfs.ErrURLExpired, vfs.ErrOffline, vfs.ErrUnauthenticated, ErrTransient}

func encodeErr(err error) error {
	if err == nil {
		return nil
	}
	for i, s := range sentinels {
		if errors.Is(err, s) {
			return fmt.Errorf("sentinel:%d|%s", i, err.Error())
		}
	}
	return err
}

func decodeErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "sentinel:"); ok {
		var i int
		if _, serr := fmt.Sscanf(rest, "%d|", &i); serr == nil && i >= 0 && i < len(sentinels) {
			_, text, _ := strings.Cut(rest, "|")
			return fmt.Errorf("%s: %w", text, sentinels[i])
		}
	}
	if errors.Is(err, rpc.ErrShutdown) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%v: %w", err, vfs.ErrOffline)
	}
	return err
}

// RPCArgs carries any Remote call's arguments.
type RPCArgs struct {
	ID, ParentID, Name, IfMatch, Token, URL string
	Off, N, Size, Total                     int64
	Data                                    []byte
	Session                                 vfs.UploadSession
	Time                                    time.Time
}

// RPCReply carries any Remote call's results.
type RPCReply struct {
	Item    vfs.Item
	Items   []vfs.Item
	HasItem bool
	Next    string
	URL     string
	Data    []byte
	Session vfs.UploadSession
}

// RemoteService exposes a Remote over net/rpc.
type RemoteService struct{ r vfs.Remote }

func (s *RemoteService) Root(a RPCArgs, out *RPCReply) (err error) {
	out.Item, err = s.r.Root(context.Background())
	return encodeErr(err)
}
func (s *RemoteService) Get(a RPCArgs, out *RPCReply) (err error) {
	out.Item, err = s.r.Get(context.Background(), a.ID)
	return encodeErr(err)
}
func (s *RemoteService) List(a RPCArgs, out *RPCReply) (err error) {
	out.Items, err = s.r.List(context.Background(), a.ID)
	return encodeErr(err)
}
func (s *RemoteService) Delta(a RPCArgs, out *RPCReply) (err error) {
	out.Items, out.Next, err = s.r.Delta(context.Background(), a.Token)
	return encodeErr(err)
}
func (s *RemoteService) DownloadURL(a RPCArgs, out *RPCReply) (err error) {
	out.URL, err = s.r.DownloadURL(context.Background(), a.ID)
	return encodeErr(err)
}
func (s *RemoteService) ReadRange(a RPCArgs, out *RPCReply) error {
	rc, err := s.r.ReadRange(context.Background(), a.URL, a.Off, a.N)
	if err != nil {
		return encodeErr(err)
	}
	defer rc.Close()
	out.Data, err = io.ReadAll(rc)
	return encodeErr(err)
}
func (s *RemoteService) SetModTime(a RPCArgs, out *RPCReply) (err error) {
	out.Item, err = s.r.SetModTime(context.Background(), a.ID, a.Time)
	return encodeErr(err)
}
func (s *RemoteService) PutSmall(a RPCArgs, out *RPCReply) (err error) {
	out.Item, err = s.r.PutSmall(context.Background(), a.ParentID, a.Name, a.Data, a.IfMatch)
	return encodeErr(err)
}
func (s *RemoteService) CreateUploadSession(a RPCArgs, out *RPCReply) (err error) {
	out.Session, err = s.r.CreateUploadSession(context.Background(), a.ParentID, a.Name, a.Size, a.IfMatch)
	return encodeErr(err)
}
func (s *RemoteService) UploadStatus(a RPCArgs, out *RPCReply) (err error) {
	out.Session, err = s.r.UploadStatus(context.Background(), a.Session)
	return encodeErr(err)
}
func (s *RemoteService) UploadFragment(a RPCArgs, out *RPCReply) error {
	it, err := s.r.UploadFragment(context.Background(), a.Session, a.Off, a.Total, a.Data)
	if it != nil {
		out.Item, out.HasItem = *it, true
	}
	return encodeErr(err)
}
func (s *RemoteService) CancelUpload(a RPCArgs, out *RPCReply) error {
	return encodeErr(s.r.CancelUpload(context.Background(), a.Session))
}
func (s *RemoteService) Mkdir(a RPCArgs, out *RPCReply) (err error) {
	out.Item, err = s.r.Mkdir(context.Background(), a.ParentID, a.Name)
	return encodeErr(err)
}
func (s *RemoteService) Move(a RPCArgs, out *RPCReply) (err error) {
	out.Item, err = s.r.Move(context.Background(), a.ID, a.ParentID, a.Name, a.IfMatch)
	return encodeErr(err)
}
func (s *RemoteService) Delete(a RPCArgs, out *RPCReply) error {
	return encodeErr(s.r.Delete(context.Background(), a.ID, a.IfMatch))
}

// ServeRemote serves r on l until l is closed.
func ServeRemote(l net.Listener, r vfs.Remote) error {
	srv := rpc.NewServer()
	if err := srv.RegisterName("Remote", &RemoteService{r: r}); err != nil {
		return err
	}
	srv.Accept(l)
	return nil
}

// RPCRemote is a Remote served by ServeRemote in another process.
type RPCRemote struct{ c *rpc.Client }

// DialRemote connects to a ServeRemote listener on a unix socket.
func DialRemote(socket string) (*RPCRemote, error) {
	c, err := rpc.Dial("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("dial remote: %w", err)
	}
	return &RPCRemote{c: c}, nil
}

// Close closes the connection.
func (r *RPCRemote) Close() error { return r.c.Close() }

func (r *RPCRemote) call(ctx context.Context, m string, a RPCArgs) (RPCReply, error) {
	var out RPCReply
	call := r.c.Go("Remote."+m, a, &out, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		return out, decodeErr(call.Error)
	case <-ctx.Done():
		return out, ctx.Err()
	}
}

func (r *RPCRemote) Root(ctx context.Context) (vfs.Item, error) {
	o, err := r.call(ctx, "Root", RPCArgs{})
	return o.Item, err
}
func (r *RPCRemote) Get(ctx context.Context, id string) (vfs.Item, error) {
	o, err := r.call(ctx, "Get", RPCArgs{ID: id})
	return o.Item, err
}
func (r *RPCRemote) List(ctx context.Context, id string) ([]vfs.Item, error) {
	o, err := r.call(ctx, "List", RPCArgs{ID: id})
	return o.Items, err
}
func (r *RPCRemote) Delta(ctx context.Context, token string) ([]vfs.Item, string, error) {
	o, err := r.call(ctx, "Delta", RPCArgs{Token: token})
	return o.Items, o.Next, err
}
func (r *RPCRemote) DownloadURL(ctx context.Context, id string) (string, error) {
	o, err := r.call(ctx, "DownloadURL", RPCArgs{ID: id})
	return o.URL, err
}
func (r *RPCRemote) ReadRange(ctx context.Context, url string, off, n int64) (io.ReadCloser, error) {
	o, err := r.call(ctx, "ReadRange", RPCArgs{URL: url, Off: off, N: n})
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(o.Data)), nil
}
func (r *RPCRemote) PutSmall(ctx context.Context, parentID, name string, data []byte, ifMatch string) (vfs.Item, error) {
	o, err := r.call(ctx, "PutSmall", RPCArgs{ParentID: parentID, Name: name, Data: data, IfMatch: ifMatch})
	return o.Item, err
}
func (r *RPCRemote) CreateUploadSession(ctx context.Context, parentID, name string, size int64, ifMatch string) (vfs.UploadSession, error) {
	o, err := r.call(ctx, "CreateUploadSession", RPCArgs{ParentID: parentID, Name: name, Size: size, IfMatch: ifMatch})
	return o.Session, err
}
func (r *RPCRemote) UploadStatus(ctx context.Context, s vfs.UploadSession) (vfs.UploadSession, error) {
	o, err := r.call(ctx, "UploadStatus", RPCArgs{Session: s})
	return o.Session, err
}
func (r *RPCRemote) UploadFragment(ctx context.Context, s vfs.UploadSession, off, total int64, data []byte) (*vfs.Item, error) {
	o, err := r.call(ctx, "UploadFragment", RPCArgs{Session: s, Off: off, Total: total, Data: data})
	if err != nil || !o.HasItem {
		return nil, err
	}
	return &o.Item, nil
}
func (r *RPCRemote) CancelUpload(ctx context.Context, s vfs.UploadSession) error {
	_, err := r.call(ctx, "CancelUpload", RPCArgs{Session: s})
	return err
}
func (r *RPCRemote) Mkdir(ctx context.Context, parentID, name string) (vfs.Item, error) {
	o, err := r.call(ctx, "Mkdir", RPCArgs{ParentID: parentID, Name: name})
	return o.Item, err
}
func (r *RPCRemote) Move(ctx context.Context, id, newParentID, newName, ifMatch string) (vfs.Item, error) {
	o, err := r.call(ctx, "Move", RPCArgs{ID: id, ParentID: newParentID, Name: newName, IfMatch: ifMatch})
	return o.Item, err
}
func (r *RPCRemote) SetModTime(ctx context.Context, id string, t time.Time) (vfs.Item, error) {
	o, err := r.call(ctx, "SetModTime", RPCArgs{ID: id, Time: t})
	return o.Item, err
}
func (r *RPCRemote) Delete(ctx context.Context, id, ifMatch string) error {
	_, err := r.call(ctx, "Delete", RPCArgs{ID: id, IfMatch: ifMatch})
	return err
}

var _ vfs.Remote = (*RPCRemote)(nil)
