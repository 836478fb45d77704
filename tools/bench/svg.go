package main

import (
	"encoding/xml"
	"fmt"
	"math"
	"strings"
)

// Chart geometry, in pixels.
const (
	svgWidth   = 820
	svgMargin  = 16
	svgLabelW  = 170 // server names
	svgBarMaxW = 440
	svgRowH    = 20
	svgBarH    = 14
	svgHeadH   = 30
	svgGoes    = "#1f6fb2"
	svgPeer    = "#a0a0a0"
)

// svg draws one horizontal bar chart per section, by the section's primary
// figure, goes in blue and the peers in grey, each bar labelled with its
// value and its ratio to the best peer.
func (rep report) svg() string {
	var b strings.Builder
	machine := strings.Split(rep.Machine, "; ")
	height := svgMargin + 32 + 12*len(machine)
	for i := range rep.Sections {
		height += svgHeadH + len(rep.Sections[i].Rows)*svgRowH + 8
	}
	height += svgMargin
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", svgWidth, height)
	y := svgMargin + 14
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="16" font-weight="bold">goes and its peers</text>`+"\n", svgMargin, y)
	y += 6
	for _, line := range machine {
		y += 12
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#555555">%s</text>`+"\n", svgMargin, y, esc(clip(line, 140)))
	}
	y += 12
	for i := range rep.Sections {
		s := &rep.Sections[i]
		f, unit, higher := s.primary()
		dir := "higher is better"
		if !higher {
			dir = "lower is better"
		}
		y += svgHeadH - 8
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text><text x="%d" y="%d" fill="#555555" text-anchor="end">%s, %s</text>`+"\n",
			svgMargin, y, esc(s.Shape.Title), svgWidth-svgMargin, y, esc(unit), dir)
		y += 8
		maxV := 0.0
		for _, r := range s.Rows {
			if v := f(r); !math.IsNaN(v) && v > maxV {
				maxV = v
			}
		}
		best := s.bestPeer(f, higher)
		for _, r := range s.Rows {
			ty := y + svgBarH - 2
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end"%s>%s</text>`, svgMargin+svgLabelW-6, ty, weight(r), esc(r.Server))
			v := f(r)
			if len(r.Samples) == 0 || math.IsNaN(v) {
				fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#b00020">failed</text>`+"\n", svgMargin+svgLabelW, ty)
				y += svgRowH
				continue
			}
			w := 0.0
			if maxV > 0 && v > 0 {
				w = v / maxV * svgBarMaxW
			}
			color := svgPeer
			if !r.Peer {
				color = svgGoes
			}
			label := chartValue(v, s.idle())
			if rt := ratio(v, best); !math.IsNaN(rt) {
				label += fmt.Sprintf(" (%.2f×)", rt)
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/><text x="%.1f" y="%d">%s</text>`+"\n",
				svgMargin+svgLabelW, y, w, svgBarH, color, float64(svgMargin+svgLabelW)+w+6, ty, esc(label))
			y += svgRowH
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func weight(r *row) string {
	if r.Peer {
		return ""
	}
	return ` font-weight="bold"`
}

func chartValue(v float64, idle bool) string {
	if idle {
		return fmt.Sprintf("%.2f KB", v)
	}
	return humanCount(v)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
