package graph_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/graph"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// BenchmarkListChildren10k lists a 10,000-item folder with Remote.List and
// with the leanest plain paging over the same paced client (what the
// filesystem's cold "ls -l" benchmark compares against).
//
//	go test -run '^$' -bench ListChildren10k ./client/internal/graph/
func BenchmarkListChildren10k(b *testing.B) {
	seed := directory.DemoSeed()
	seed.Tenants[0].Users[0].Drive.Files = append(seed.Tenants[0].Users[0].Drive.Files,
		directory.File{Path: "Big/"}, directory.File{Path: "Big/file {n}.txt", Content: "x", Count: 10000})
	sim := m365sim.StartForTest(b, m365sim.WithSeed(seed))
	gc := newClient(b, sim, "alice@contoso.com", graph.PacerOptions{})
	ctx := ctxT(b)
	my, err := gc.MyDrive(ctx)
	if err != nil {
		b.Fatal(err)
	}
	r := graph.NewDrive(gc, my.ID)
	root, err := r.Root(ctx)
	if err != nil {
		b.Fatal(err)
	}
	big := findChild(b, mustList(b, r, root.ID), "Big")

	b.Run("Remote.List", func(b *testing.B) {
		for b.Loop() {
			items, err := r.List(context.Background(), big.ID)
			if err != nil || len(items) != 10000 {
				b.Fatalf("List = %d items, %v", len(items), err)
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			next := sim.GraphURL() + "/drives/" + my.ID + "/items/" + big.ID + "/children?$top=1000"
			n := 0
			for next != "" {
				req, _ := http.NewRequestWithContext(ctx, "GET", next, nil)
				resp, err := gc.HTTPClient().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				var page struct {
					Value []struct {
						ID, Name, ETag string
						Size           int64
					} `json:"value"`
					Next string `json:"@odata.nextLink"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				n += len(page.Value)
				next = page.Next
			}
			if n != 10000 {
				b.Fatalf("plain paging = %d items", n)
			}
		}
	})
}
