package tray

import (
	"bytes"
	_ "embed"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"

	"fyne.io/fyne/v2"
)

// The mark is a copy of assets/mapdrive-64.png and assets/mapdrive-256.png
// (assets/ is outside every Go module, so embed cannot reach it).
var (
	//go:embed icons/mapdrive-64.png
	mark64 []byte
	//go:embed icons/mapdrive-256.png
	mark256 []byte
)

// Badge is the small status mark drawn on the tray icon.
type Badge int

// Badges, in rising order of urgency.
const (
	BadgeOK        Badge = iota // everything up to date
	BadgeSyncing                // transfers in progress
	BadgeOffline                // Microsoft 365 unreachable
	BadgeAttention              // the user must do something
)

func (b Badge) String() string {
	switch b {
	case BadgeOK:
		return "ok"
	case BadgeSyncing:
		return "syncing"
	case BadgeOffline:
		return "offline"
	case BadgeAttention:
		return "attention"
	}
	return fmt.Sprintf("Badge(%d)", int(b))
}

// Icons holds the app icon and one tray icon per badge, made once.
type Icons struct {
	App   fyne.Resource           // the plain mark, 256 px
	Badge map[Badge]fyne.Resource // the 64 px mark with each badge
}

// NewIcons decodes the embedded mark and draws the badged tray icons.
func NewIcons() (*Icons, error) {
	base, err := png.Decode(bytes.NewReader(mark64))
	if err != nil {
		return nil, fmt.Errorf("decode the embedded tray icon: %w", err)
	}
	ic := &Icons{
		App:   fyne.NewStaticResource("mapdrive.png", mark256),
		Badge: make(map[Badge]fyne.Resource, 4),
	}
	for _, b := range []Badge{BadgeOK, BadgeSyncing, BadgeOffline, BadgeAttention} {
		img := BadgedIcon(base, b)
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return nil, fmt.Errorf("encode the %s tray icon: %w", b, err)
		}
		ic.Badge[b] = fyne.NewStaticResource("mapdrive-"+b.String()+".png", buf.Bytes())
	}
	return ic, nil
}

// badge colours: green, blue, grey, amber.
var badgeFill = map[Badge]color.NRGBA{
	BadgeOK:        {0x2e, 0x9d, 0x4b, 0xff},
	BadgeSyncing:   {0x1a, 0x73, 0xe8, 0xff},
	BadgeOffline:   {0x6b, 0x72, 0x80, 0xff},
	BadgeAttention: {0xe6, 0x7e, 0x00, 0xff},
}

// BadgedIcon returns base with badge b drawn as a disc in its lower right
// quarter: a tick (OK), a circular arrow (syncing), a bar (offline) or an
// exclamation mark (attention), in white on a coloured disc with a white rim.
func BadgedIcon(base image.Image, b Badge) *image.NRGBA {
	bounds := base.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, bounds.Dx(), bounds.Dy()))
	draw.Draw(out, out.Bounds(), base, bounds.Min, draw.Src)
	s := float64(bounds.Dx())
	cx, cy, r := s*0.73, s*0.73, s*0.26
	fill := badgeFill[b]
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	glyph := glyphFor(b, cx, cy, r)
	for y := 0; y < out.Bounds().Dy(); y++ {
		for x := 0; x < out.Bounds().Dx(); x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			d := math.Hypot(px-cx, py-cy)
			rim := coverage(d - (r + s*0.03)) // the white rim around the disc
			if rim <= 0 {
				continue
			}
			blend(out, x, y, white, rim)
			if disc := coverage(d - r); disc > 0 {
				blend(out, x, y, fill, disc)
			}
			if g := coverage(glyph(px, py)); g > 0 {
				blend(out, x, y, white, g)
			}
		}
	}
	return out
}

// coverage turns a signed distance (negative inside) into pixel coverage.
func coverage(dist float64) float64 {
	return math.Max(0, math.Min(1, 0.5-dist))
}

// blend paints c over the pixel at (x, y) with coverage a.
func blend(img *image.NRGBA, x, y int, c color.NRGBA, a float64) {
	i := img.PixOffset(x, y)
	p := img.Pix[i : i+4 : i+4]
	sa := a * float64(c.A) / 255
	da := float64(p[3]) / 255
	oa := sa + da*(1-sa)
	if oa == 0 {
		return
	}
	mix := func(sc, dc uint8) uint8 {
		v := (float64(sc)*sa + float64(dc)*da*(1-sa)) / oa
		return uint8(math.Round(v))
	}
	p[0], p[1], p[2] = mix(c.R, p[0]), mix(c.G, p[1]), mix(c.B, p[2])
	p[3] = uint8(math.Round(oa * 255))
}

// glyphFor returns the signed distance function of b's white glyph.
func glyphFor(b Badge, cx, cy, r float64) func(x, y float64) float64 {
	w := r * 0.16 // half the stroke width
	switch b {
	case BadgeOK:
		return func(x, y float64) float64 {
			return math.Min(
				segment(x, y, cx-r*0.45, cy+r*0.02, cx-r*0.12, cy+r*0.38)-w,
				segment(x, y, cx-r*0.12, cy+r*0.38, cx+r*0.48, cy-r*0.32)-w)
		}
	case BadgeSyncing:
		return func(x, y float64) float64 {
			dx, dy := x-cx, y-cy
			ring := math.Abs(math.Hypot(dx, dy)-r*0.5) - w
			// leave a gap in the upper right, where the arrow head sits
			if dx > 0 && dy < 0 && -dy < dx*1.8 {
				ring = math.Max(ring, w)
			}
			head := triangle(x, y, cx+r*0.25, cy-r*0.78, cx+r*0.85, cy-r*0.25, cx+r*0.2, cy-r*0.05)
			return math.Min(ring, head)
		}
	case BadgeOffline:
		return func(x, y float64) float64 {
			return segment(x, y, cx-r*0.45, cy, cx+r*0.45, cy) - w*1.1
		}
	default: // attention
		return func(x, y float64) float64 {
			return math.Min(
				segment(x, y, cx, cy-r*0.5, cx, cy+r*0.12)-w,
				math.Hypot(x-cx, y-(cy+r*0.47))-w*1.1)
		}
	}
}

// segment is the distance from (x, y) to the segment (ax, ay)-(bx, by).
func segment(x, y, ax, ay, bx, by float64) float64 {
	vx, vy := bx-ax, by-ay
	t := ((x-ax)*vx + (y-ay)*vy) / (vx*vx + vy*vy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(x-(ax+t*vx), y-(ay+t*vy))
}

// triangle is a signed distance (negative inside) to a triangle, exact
// enough for anti-aliasing its edges.
func triangle(x, y, ax, ay, bx, by, cx, cy float64) float64 {
	edge := func(px, py, qx, qy float64) float64 {
		// signed distance to the line pq, positive on the right
		nx, ny := qy-py, -(qx - px)
		l := math.Hypot(nx, ny)
		return ((x-px)*nx + (y-py)*ny) / l
	}
	d1, d2, d3 := edge(ax, ay, bx, by), edge(bx, by, cx, cy), edge(cx, cy, ax, ay)
	// orientation: make "inside" negative whichever way the points turn
	if (bx-ax)*(cy-ay)-(by-ay)*(cx-ax) > 0 {
		d1, d2, d3 = -d1, -d2, -d3
	}
	return math.Max(d1, math.Max(d2, d3))
}
