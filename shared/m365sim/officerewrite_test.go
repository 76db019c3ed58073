package m365sim

import (
	"testing"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// Contract (graph-contract.md, Uploads): SharePoint may rewrite an Office
// document after upload, embedding its column properties; the item
// returned, or only the next delta, shows a size and hash that differ from
// what was sent. The simulator models both forms as a seeded property of a
// library, and leaves other files, and libraries without it, alone.
func TestConformanceOfficeRewriteAfterUpload(t *testing.T) {
	for _, mode := range []string{directory.RewriteOfficeInResponse, directory.RewriteOfficeInDelta} {
		t.Run(mode, func(t *testing.T) {
			seed := directory.DemoSeed()
			seed.Tenants[0].Users[0].Drive.RewriteOffice = mode // alice
			s := StartForTest(t, WithSeed(seed))
			ctx := ctxT(t)
			as := s.Admin().As("contoso", "alice")
			sent := []byte("PK\x03\x04 a word document")
			up, err := as.Upload(ctx, "", "Report.docx", sent)
			if err != nil {
				t.Fatal(err)
			}
			now, err := as.Get(ctx, "", "Report.docx")
			if err != nil {
				t.Fatal(err)
			}
			if now.Size == int64(len(sent)) {
				t.Fatalf("stored size %d = sent size: not rewritten", now.Size)
			}
			if got, err := as.Download(ctx, "", "Report.docx"); err != nil || int64(len(got)) != now.Size || string(got[:len(sent)]) != string(sent) {
				t.Errorf("stored content = %q, %v; want the sent bytes with properties added", got, err)
			}
			switch mode {
			case directory.RewriteOfficeInResponse:
				if up.Size != now.Size || up.File.Hashes.QuickXorHash != now.File.Hashes.QuickXorHash || up.ETag != now.ETag {
					t.Errorf("upload answer %+v, stored %+v: the answer must show the rewrite", up, now)
				}
			case directory.RewriteOfficeInDelta:
				if up.Size != int64(len(sent)) || up.ETag == now.ETag || up.File.Hashes.QuickXorHash == now.File.Hashes.QuickXorHash {
					t.Errorf("upload answer %+v, stored %+v: the answer must show what was sent, the rewrite come later", up, now)
				}
			}
			plain, err := as.Upload(ctx, "", "notes.txt", []byte("plain text"))
			if err != nil || plain.Size != int64(len("plain text")) {
				t.Errorf("a text file in the same library: %+v, %v; want it kept as sent", plain, err)
			}
		})
	}
	s := StartForTest(t)
	up, err := s.Admin().As("contoso", "alice").Upload(ctxT(t), "", "Report.docx", []byte("unchanged"))
	if err != nil || up.Size != int64(len("unchanged")) {
		t.Errorf("a library without rewriteOffice: %+v, %v; want the document kept as sent", up, err)
	}
}
