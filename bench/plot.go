package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// palette gives each controller (and the floor) the same colour in every plot.
var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
}

func controllerNames(gs []*group) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range gs {
		if !seen[g.Controller] {
			seen[g.Controller] = true
			out = append(out, g.Controller)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[j] == "none" && out[i] != "none" })
	return out
}

// writePlots writes the PNGs there is data for and returns their file names.
func writePlots(dir string, gs []*group) ([]string, error) {
	var files []string
	for _, f := range []func(string, []*group) (string, error){plotCompletion, plotRequests, plotSteps, plotIdle} {
		name, err := f(dir, gs)
		if err != nil {
			return files, err
		}
		if name != "" {
			files = append(files, name)
		}
	}
	return files, nil
}

// plotCompletion: canary-complete's time until all N rollouts are Healthy, against N.
func plotCompletion(dir string, gs []*group) (string, error) {
	return plotAgainstN(dir, gs, "completion.png", "canary-complete: all N rollouts Healthy after an image update",
		"time until the last is Healthy (s)", func(g *group) []float64 { return g.Samples["complete"] })
}

// plotRequests: canary-complete's API requests per rollout update, against N.
func plotRequests(dir string, gs []*group) (string, error) {
	return plotAgainstN(dir, gs, "requests-per-update.png", "canary-complete: controller API requests per rollout update",
		"requests per rollout update", func(g *group) []float64 {
			if g.Total.Updates == 0 {
				return nil
			}
			var out []float64
			for _, r := range g.Runs {
				for _, w := range r.Windows {
					if w.Updates > 0 {
						out = append(out, w.ControllerRequests/w.Updates)
					}
				}
			}
			return out
		})
}

func plotAgainstN(dir string, gs []*group, file, title, ylabel string, values func(*group) []float64) (string, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "N (rollouts updated at once)"
	p.Y.Label.Text = ylabel
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	any := false
	for ci, c := range controllerNames(gs) {
		var line, dots plotter.XYs
		for _, g := range gs {
			if g.Scenario != "canary-complete" || g.Controller != c {
				continue
			}
			v := values(g)
			if len(v) == 0 {
				continue
			}
			for _, x := range v {
				dots = append(dots, plotter.XY{X: float64(g.Size), Y: x})
			}
			line = append(line, plotter.XY{X: float64(g.Size), Y: summarize(v).Median})
		}
		if len(line) == 0 {
			continue
		}
		any = true
		sort.Slice(line, func(i, j int) bool { return line[i].X < line[j].X })
		col := palette[ci%len(palette)]
		l, err := plotter.NewLine(line)
		if err != nil {
			return "", err
		}
		l.Color = col
		l.Width = vg.Points(1.5)
		s, err := plotter.NewScatter(dots)
		if err != nil {
			return "", err
		}
		s.Color = col
		s.Shape = draw.CircleGlyph{}
		p.Add(l, s)
		p.Legend.Add(c+" (median; dots: each update)", l, s)
	}
	if !any {
		return "", nil
	}
	// a log axis must not reach 0, which gonum's padding of a single N would do
	minN, maxN := math.Inf(1), 0.0
	for _, g := range gs {
		if g.Scenario == "canary-complete" {
			minN, maxN = math.Min(minN, float64(g.Size)), math.Max(maxN, float64(g.Size))
		}
	}
	p.X.Min, p.X.Max = minN/2, maxN*2
	p.Y.Min = 0
	return file, p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, file))
}

// plotSteps: step latency, the floor beside each controller, as box plots.
func plotSteps(dir string, gs []*group) (string, error) {
	type box struct {
		label string
		v     []float64
		col   color.Color
	}
	var boxes []box
	for ci, c := range controllerNames(gs) {
		for _, g := range gs {
			if g.Controller != c || (g.Scenario != "step-latency" && g.Scenario != "floor") {
				continue
			}
			who := c
			if g.Scenario == "floor" {
				who = "floor"
			}
			for _, m := range []struct{ key, label string }{{"promote_to_rs", "→ RS write"}, {"promote_to_pause", "→ next pause"}} {
				if v := g.Samples[m.key]; len(v) > 0 {
					boxes = append(boxes, box{label: who + "\n" + m.label, v: v, col: palette[ci%len(palette)]})
				}
			}
		}
	}
	if len(boxes) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = "step latency: promote → next step's ReplicaSet write, → next pause"
	p.Y.Label.Text = "ms"
	var names []string
	for i, b := range boxes {
		vals := make(plotter.Values, len(b.v))
		for j, x := range b.v {
			vals[j] = x * 1000
		}
		bp, err := plotter.NewBoxPlot(vg.Points(30), float64(i), vals)
		if err != nil {
			return "", err
		}
		bp.FillColor = b.col
		p.Add(bp)
		names = append(names, b.label)
	}
	p.NominalX(names...)
	p.Y.Min = 0
	const file = "step-latency.png"
	return file, p.Save(vg.Length(1.4*float64(len(boxes))+1.5)*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, file))
}

// plotIdle: the controller's RSS during the idle window.
func plotIdle(dir string, gs []*group) (string, error) {
	p := plot.New()
	p.X.Label.Text = "minutes into the idle window"
	p.Y.Label.Text = "RSS (MiB)"
	p.Legend.Top = true
	any := false
	maxRSS := 0.0
	for ci, c := range controllerNames(gs) {
		for _, g := range gs {
			if g.Scenario != "idle" || g.Controller != c {
				continue
			}
			p.Title.Text = fmt.Sprintf("idle: controller memory with %d Healthy rollouts", g.Size)
			for ri, r := range g.Runs {
				if len(r.Series) == 0 {
					continue
				}
				var xy plotter.XYs
				for _, s := range r.Series {
					xy = append(xy, plotter.XY{X: s.At.Sub(r.Series[0].At).Minutes(), Y: s.RSSMiB})
					maxRSS = math.Max(maxRSS, s.RSSMiB)
				}
				l, err := plotter.NewLine(xy)
				if err != nil {
					return "", err
				}
				l.Color = palette[ci%len(palette)]
				p.Add(l)
				if ri == 0 {
					p.Legend.Add(c, l)
				}
				any = true
			}
		}
	}
	if !any {
		return "", nil
	}
	// from 0, with room above the flat line a steady RSS draws, for the legend
	p.Y.Min, p.Y.Max = 0, maxRSS*1.25
	const file = "idle-rss.png"
	return file, p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(dir, file))
}
