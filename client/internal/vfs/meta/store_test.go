package meta

import (
	"testing"
	"time"
)

func TestRecordEncodingRoundTrip(t *testing.T) {
	for _, r := range []Record{
		{},
		{Key: "k", Name: "n"},
		{Key: "L-1", RemoteID: "ID9", ParentKey: "p", Name: "a b.docx", RemoteName: "~WRL0001.tmp", IsDir: true, Size: 1 << 40,
			ETag: `"{x},1"`, CTag: `"c:{x},1"`, QuickXorHash: "AAAA", ModTime: time.Unix(1700000000, 123), ListedAt: time.Unix(5, 0)},
		{Key: "neg", Size: -1, ModTime: time.Unix(-5, 0)},
		{Key: "S1", RemoteID: "S1", Name: "Reports", IsDir: true, LinkDrive: "b!fin", LinkID: "T1"},
		{Key: "T2", RemoteID: "T2", ParentKey: "S1", Name: "Q1.txt", Drive: "b!fin", Size: 22},
	} {
		got, err := decodeRecord(encodeRecord(r))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", r, err)
		}
		if !got.ModTime.Equal(r.ModTime) || !got.ListedAt.Equal(r.ListedAt) {
			t.Fatalf("times: got %+v, want %+v", got, r)
		}
		got.ModTime, got.ListedAt, r.ModTime, r.ListedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != r {
			t.Fatalf("got %+v, want %+v", got, r)
		}
	}
	// A record written before shortcuts (format 1) still decodes.
	v1 := []byte{1}
	for _, f := range []string{"k", "", "p", "n", "", "", "", ""} {
		v1 = append(v1, byte(len(f)))
		v1 = append(v1, f...)
	}
	v1 = append(v1, 0, 6, 0, 0)
	if got, err := decodeRecord(v1); err != nil || got.Key != "k" || got.Name != "n" || got.Size != 3 {
		t.Errorf("decodeRecord(format 1) = %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {2}, {3}, {1, 200}, {1, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := decodeRecord(bad); err == nil {
			t.Errorf("decodeRecord(%v) succeeded", bad)
		}
	}
}

// FuzzDecodeRecord checks that no stored bytes make the decoder panic, and
// that what decodes re-encodes to a record that decodes the same.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(Record{Key: "k", Name: "n", Size: 3, ModTime: time.Unix(1, 0)}))
	f.Add([]byte(`{"k":"x","n":"y"}`))
	f.Add([]byte{1, 1, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		again, err := decodeRecord(encodeRecord(r))
		if err != nil || again.Key != r.Key || again.Name != r.Name || again.Size != r.Size {
			t.Fatalf("re-encoding %+v gave %+v, %v", r, again, err)
		}
	})
}
