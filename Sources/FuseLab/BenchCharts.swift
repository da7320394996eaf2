import Foundation

// The charts of `fuse-lab bench` beyond the lifecycle's: horizontal bars (throughput,
// footprint), a heat map and lines (the join and video grids). Pure SVG text, built on BenchReport's
// scales and escaping.

/// A single figure on a line chart (the paper's, say): a hollow diamond at (x, y) with a label.
public struct ChartMark: Sendable, Equatable {
    public let x: Double
    public let y: Double
    public let label: String
    public let colour: String
    public init(x: Double, y: Double, label: String, colour: String) {
        self.x = x
        self.y = y
        self.label = label
        self.colour = colour
    }
}

/// One series of a chart: a name for the legend and a colour.
public struct ChartSeries: Sendable, Equatable {
    public let name: String
    public let colour: String
    public init(_ name: String, _ colour: String) {
        self.name = name
        self.colour = colour
    }
}

extension BenchReport {
    /// Colours in a fixed order, readable on white and in greyscale.
    public static let palette = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#c53030", "#4a5568"]

    static let gridColour = "#dddddd", mutedInk = "#4a5568", ink = "#1a202c"

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func svgHeader(width: Double, height: Double, title: String, subtitle: String?) -> [String] {
        var svg = [#"<svg xmlns="http://www.w3.org/2000/svg" width="\#(f(width))" height="\#(f(height))" viewBox="0 0 \#(f(width)) \#(f(height))" font-family="sans-serif" font-size="12">"#,
                   #"<rect x="0" y="0" width="\#(f(width))" height="\#(f(height))" fill="white"/>"#,
                   #"<text x="\#(f(width / 2))" y="22" text-anchor="middle" font-size="15" font-weight="bold">\#(escapeXML(title))</text>"#]
        if let subtitle {
            svg.append(#"<text x="\#(f(width / 2))" y="40" text-anchor="middle" fill="\#(mutedInk)">\#(escapeXML(subtitle))</text>"#)
        }
        return svg
    }

    static func legend(_ series: [ChartSeries], x: Double, y: Double) -> [String] {
        var svg: [String] = []
        var position = x
        for item in series {
            svg.append(#"<rect x="\#(f(position))" y="\#(f(y - 10))" width="12" height="12" fill="\#(item.colour)"/>"#)
            svg.append(#"<text x="\#(f(position + 16))" y="\#(f(y))">\#(escapeXML(item.name))</text>"#)
            position += 28 + Double(item.name.count) * 6.6
        }
        return svg
    }

    /// "0.1", "1", "10", "100", "1k", "10k" for a log axis.
    static func decadeText(_ value: Double) -> String {
        value >= 1000 ? number(value / 1000) + "k" : number(value)
    }

    /// Horizontal bars on a log axis: per group (a row label) one bar per series (nil: no
    /// bar, with `missing` written instead). Each bar carries its value.
    public static func barChartSVG(title: String, subtitle: String?, unit: String, series: [ChartSeries],
                                   groups: [(label: String, values: [Double?])], missing: String = "not measured",
                                   valueText: (Double) -> String = { $0 >= 100 ? String(format: "%.0f", $0) : number(($0 * 10).rounded() / 10) }) -> String {
        // Room for the longest row label (bold 12 px: about 7.5 px a character).
        let longest = Double(groups.map(\.label.count).max() ?? 10)
        let width = 960.0, left = Swift.max(150, longest * 7.5 + 20), right = 90.0, top = 78.0, bar = 16.0, gap = 18.0
        let groupHeight = Double(series.count) * bar + gap
        let plotWidth = width - left - right
        let height = top + groupHeight * Double(groups.count) + 50
        let (lo, hi) = logDomain(groups.flatMap { $0.values.compactMap { $0 } })
        func x(_ value: Double) -> Double { left + logPosition(value, lo: lo, hi: hi, width: plotWidth) }
        var svg = svgHeader(width: width, height: height, title: title, subtitle: subtitle)
        svg += legend(series, x: left, y: 62)
        let axisY = top + groupHeight * Double(groups.count) - gap / 2
        for exponent in Int(log10(lo).rounded())...Int(log10(hi).rounded()) {
            let decade = pow(10, Double(exponent)), position = x(decade)
            svg.append(#"<line x1="\#(f(position))" y1="\#(f(top - 6))" x2="\#(f(position))" y2="\#(f(axisY))" stroke="\#(gridColour)"/>"#)
            svg.append(#"<text x="\#(f(position))" y="\#(f(axisY + 16))" text-anchor="middle">\#(escapeXML(decadeText(decade)))</text>"#)
        }
        svg.append(#"<text x="\#(f(left + plotWidth / 2))" y="\#(f(axisY + 34))" text-anchor="middle">\#(escapeXML(unit)) (log scale)</text>"#)
        for (index, group) in groups.enumerated() {
            let y0 = top + groupHeight * Double(index)
            svg.append(#"<text x="\#(f(left - 10))" y="\#(f(y0 + Double(series.count) * bar / 2 + 4))" text-anchor="end" font-weight="bold">\#(escapeXML(group.label))</text>"#)
            for (position, item) in series.enumerated() {
                let y = y0 + Double(position) * bar
                guard position < group.values.count, let value = group.values[position] else {
                    svg.append(#"<text x="\#(f(left + 4))" y="\#(f(y + bar - 4))" fill="\#(item.colour)" font-style="italic" font-size="11">\#(escapeXML(item.name + ": " + missing))</text>"#)
                    continue
                }
                let end = Swift.max(x(value), left + 2)
                svg.append(#"<rect x="\#(f(left))" y="\#(f(y + 1))" width="\#(f(end - left))" height="\#(f(bar - 2))" fill="\#(item.colour)"/>"#)
                svg.append(#"<text x="\#(f(end + 5))" y="\#(f(y + bar - 4))" font-size="11">\#(escapeXML(valueText(value)))</text>"#)
            }
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// A heat map: rows × columns of cells, each coloured by its value on a log scale from
    /// `lo` (light) to `hi` (dark), labelled with `label(row, column)`; nil cells are grey.
    /// `domain` fixes the scale (values outside it are clamped); `higherIsBetter` turns it round
    /// (high values light, low ones dark), e.g. for frames per second.
    public static func heatMapSVG(title: String, subtitle: String?, rowTitle: String, columnTitle: String,
                                  rows: [String], columns: [String], values: [[Double?]], labels: [[String]],
                                  domain: (lo: Double, hi: Double)? = nil, higherIsBetter: Bool = false) -> String {
        let cellWidth = 140.0, cellHeight = 64.0, left = 130.0, top = 92.0
        // At least as wide as the title and as tall as the rotated row title, also for a small grid.
        let width = Swift.max(960, left + cellWidth * Double(columns.count) + 40)
        let height = Swift.max(top + 200, top + cellHeight * Double(rows.count) + 40)
        let all = values.flatMap { $0.compactMap { $0 } }.filter { $0 > 0 }
        let lo = domain?.lo ?? all.min() ?? 1, hi = Swift.max(domain?.hi ?? all.max() ?? 10, lo * 1.0001)
        var svg = svgHeader(width: width, height: height, title: title, subtitle: subtitle)
        svg.append(#"<text x="\#(f(left + cellWidth * Double(columns.count) / 2))" y="62" text-anchor="middle" font-weight="bold">\#(escapeXML(columnTitle))</text>"#)
        svg.append(#"<text x="20" y="\#(f(top + cellHeight * Double(rows.count) / 2))" text-anchor="middle" font-weight="bold" transform="rotate(-90 20 \#(f(top + cellHeight * Double(rows.count) / 2)))">\#(escapeXML(rowTitle))</text>"#)
        for (column, name) in columns.enumerated() {
            svg.append(#"<text x="\#(f(left + cellWidth * (Double(column) + 0.5)))" y="\#(f(top - 8))" text-anchor="middle">\#(escapeXML(name))</text>"#)
        }
        for (row, name) in rows.enumerated() {
            let y = top + cellHeight * Double(row)
            svg.append(#"<text x="\#(f(left - 10))" y="\#(f(y + cellHeight / 2 + 4))" text-anchor="end">\#(escapeXML(name))</text>"#)
            for column in columns.indices {
                let x = left + cellWidth * Double(column)
                let value = row < values.count && column < values[row].count ? values[row][column] : nil
                var fill = "#e2e8f0", ink = "#1a202c"
                if let value, value > 0 {
                    // Light yellow → dark red by log position.
                    let position = Swift.min(Swift.max((log10(value) - log10(lo)) / (log10(hi) - log10(lo)), 0), 1)
                    let t = higherIsBetter ? 1 - position : position
                    let r = Int(255 - 100 * t), g = Int(237 - 200 * t), b = Int(160 - 130 * t)
                    fill = String(format: "#%02x%02x%02x", r, g, b)
                    if t > 0.55 { ink = "#ffffff" }
                }
                svg.append(#"<rect x="\#(f(x))" y="\#(f(y))" width="\#(f(cellWidth - 2))" height="\#(f(cellHeight - 2))" fill="\#(fill)"/>"#)
                let text = row < labels.count && column < labels[row].count ? labels[row][column] : ""
                for (line, part) in text.split(separator: "\n").enumerated() {
                    svg.append(#"<text x="\#(f(x + cellWidth / 2 - 1))" y="\#(f(y + 20 + Double(line) * 15))" text-anchor="middle" fill="\#(ink)"\#(line == 0 ? #" font-weight="bold""# : line > 1 ? #" font-size="11""# : "")>\#(escapeXML(String(part)))</text>"#)
                }
            }
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// Lines over a numeric x axis on a linear y axis from 0: one line per series, each point
    /// with a min–max error bar (the paper's Fig. 5 form). `marks`: single figures from
    /// elsewhere (the paper's), drawn as hollow diamonds with their label.
    public static func lineChartSVG(title: String, subtitle: String?, xTitle: String, yTitle: String, xs: [Double],
                                    series: [ChartSeries], points: [[(median: Double, min: Double, max: Double)?]],
                                    failed: [[Bool]] = [], failedNote: String = "× at the top: every run failed",
                                    marks: [ChartMark] = [], goal: (y: Double, label: String)? = nil) -> String {
        let width = 900.0, height = 520.0, left = 80.0, right = 30.0, top = 80.0, bottom = 60.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let yMax = niceCeiling((points.flatMap { $0.compactMap { $0?.max } } + marks.map(\.y) + [goal?.y ?? 0]).max() ?? 1)
        let xMin = xs.min() ?? 0, xMax = Swift.max(xs.max() ?? 1, xMin + 1)
        func x(_ value: Double) -> Double { left + (value - xMin) / (xMax - xMin) * plotWidth }
        func y(_ value: Double) -> Double { top + plotHeight - value / yMax * plotHeight }
        var svg = svgHeader(width: width, height: height, title: title, subtitle: subtitle)
        svg += legend(series, x: left, y: 62)
        for step in 0...5 {
            let value = yMax * Double(step) / 5
            svg.append(#"<line x1="\#(f(left))" y1="\#(f(y(value)))" x2="\#(f(left + plotWidth))" y2="\#(f(y(value)))" stroke="\#(gridColour)"/>"#)
            svg.append(#"<text x="\#(f(left - 8))" y="\#(f(y(value) + 4))" text-anchor="end">\#(escapeXML(number((value * 100).rounded() / 100)))</text>"#)
        }
        for value in xs {
            svg.append(#"<text x="\#(f(x(value)))" y="\#(f(top + plotHeight + 18))" text-anchor="middle">\#(escapeXML(number(value)))</text>"#)
        }
        svg.append(#"<line x1="\#(f(left))" y1="\#(f(top + plotHeight))" x2="\#(f(left + plotWidth))" y2="\#(f(top + plotHeight))" stroke="\#(ink)"/>"#)
        svg.append(#"<text x="\#(f(left + plotWidth / 2))" y="\#(f(height - 18))" text-anchor="middle">\#(escapeXML(xTitle))</text>"#)
        svg.append(#"<text x="20" y="\#(f(top + plotHeight / 2))" text-anchor="middle" transform="rotate(-90 20 \#(f(top + plotHeight / 2)))">\#(escapeXML(yTitle))</text>"#)
        for (index, item) in series.enumerated() where index < points.count {
            // A small sideways offset per series keeps the error bars apart.
            let offset = (Double(index) - Double(series.count - 1) / 2) * 4
            let present = zip(xs, points[index]).compactMap { pair in pair.1.map { (x(pair.0) + offset, $0) } }
            if present.count > 1 {
                let path = present.map { "\(f($0.0)),\(f(y($0.1.median)))" }.joined(separator: " ")
                svg.append(#"<polyline points="\#(path)" fill="none" stroke="\#(item.colour)" stroke-width="2"/>"#)
            }
            for (px, point) in present {
                svg.append(#"<line x1="\#(f(px))" y1="\#(f(y(point.min)))" x2="\#(f(px))" y2="\#(f(y(point.max)))" stroke="\#(item.colour)" stroke-width="1.5"/>"#)
                svg.append(#"<circle cx="\#(f(px))" cy="\#(f(y(point.median)))" r="3.5" fill="\#(item.colour)"/>"#)
            }
            let marks = index < failed.count ? failed[index] : []
            for (value, isFailed) in zip(xs, marks) where isFailed {
                svg.append(#"<text x="\#(f(x(value) + offset))" y="\#(f(top + 6 + Double(index) * 12))" text-anchor="middle" fill="\#(item.colour)" font-weight="bold">×</text>"#)
            }
        }
        if failed.contains(where: { $0.contains(true) }) {
            svg.append(#"<text x="\#(f(left + plotWidth))" y="62" text-anchor="end" fill="\#(mutedInk)">\#(escapeXML(failedNote))</text>"#)
        }
        // A level the figures should stay under: a dashed line with its label.
        if let goal {
            svg.append(#"<line x1="\#(f(left))" y1="\#(f(y(goal.y)))" x2="\#(f(left + plotWidth))" y2="\#(f(y(goal.y)))" stroke="\#(ink)" stroke-width="1.5" stroke-dasharray="6 4"/>"#)
            svg.append(#"<text x="\#(f(left + 6))" y="\#(f(y(goal.y) + 14))" text-anchor="start" fill="\#(ink)">\#(escapeXML(goal.label))</text>"#)
        }
        for mark in marks {
            let (mx, my) = (x(mark.x), y(mark.y))
            svg.append(#"<path d="M \#(f(mx)) \#(f(my - 7)) L \#(f(mx + 7)) \#(f(my)) L \#(f(mx)) \#(f(my + 7)) L \#(f(mx - 7)) \#(f(my)) Z" fill="none" stroke="\#(mark.colour)" stroke-width="2"/>"#)
            svg.append(#"<text x="\#(f(mx - 10))" y="\#(f(my - 9))" text-anchor="end" fill="\#(mark.colour)" font-size="11">\#(escapeXML(mark.label))</text>"#)
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// The next "nice" number (1, 2, 2.5, 5 × 10^n) at or above `value`.
    public static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let decade = pow(10, (log10(value)).rounded(.down))
        for step in [1.0, 2, 2.5, 5, 10] where step * decade >= value { return step * decade }
        return 10 * decade
    }
}
