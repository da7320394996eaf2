import Foundation
import Testing
@testable import FuseLab

@Suite struct BenchReportTests {
    static func run(_ n: Int, _ create: Double, _ join: Double, _ leave: Double, _ destroy: Double,
                    reported: Double = 0.1, steps: [JoinStep] = []) -> LifecycleRun {
        LifecycleRun(run: n, masterCreate: create, workerJoin: join, workerLeave: leave, masterDestroy: destroy,
                     joinReported: reported, joinSteps: steps)
    }

    @Test func spreadOfAnOddSampleTakesTheMiddleValue() throws {
        let spread = try #require(Spread([0.3, 0.1, 0.9, 0.5, 0.2]))
        #expect(spread == Spread(min: 0.1, median: 0.3, max: 0.9))
    }

    @Test func spreadOfAnEvenSampleAveragesTheMiddleTwo() throws {
        #expect(Spread([4, 1, 3, 2]) == Spread(min: 1, median: 2.5, max: 4))
        #expect(Spread([7]) == Spread(min: 7, median: 7, max: 7))
        #expect(Spread([]) == nil)
    }

    @Test func summaryHasEveryMetricInOrderWithThePapersFigures() {
        let runs = [Self.run(1, 0.3, 0.2, 0.1, 0.12), Self.run(2, 0.25, 0.4, 0.2, 0.10), Self.run(3, 0.5, 0.3, 0.15, 0.2)]
        let rows = BenchReport.summarize(runs)
        #expect(rows.map(\.metric) == [.masterCreate, .workerJoin, .workerLeave, .masterDestroy])
        #expect(rows[0].ours == Spread(min: 0.25, median: 0.3, max: 0.5))
        #expect(rows[1].ours == Spread(min: 0.2, median: 0.3, max: 0.4))
        #expect(rows[0].paper == PaperSpread(min: 356, median: 374, max: 381))
        #expect(rows[1].paper == PaperSpread(min: 60, median: nil, max: 240))
        #expect(rows[2].paper == nil)
        #expect(rows[3].paper == PaperSpread(min: 7.87, median: 7.90, max: 8.90))
        #expect(BenchReport.summarize([]).isEmpty)
    }

    @Test func speedUpIsPaperMedianOverOursOrALowerBoundFromThePapersMinimum() throws {
        let create = LifecycleSummaryRow(metric: .masterCreate, ours: Spread(min: 0.2, median: 0.374, max: 0.5), paper: LifecycleMetric.masterCreate.paper)
        let createSpeedUp = try #require(create.speedUp)
        #expect(abs(createSpeedUp.factor - 1000) < 1e-9)
        #expect(!createSpeedUp.isLowerBound)
        #expect(createSpeedUp.text == "1000×")

        let join = LifecycleSummaryRow(metric: .workerJoin, ours: Spread(min: 0.1, median: 0.25, max: 0.3), paper: LifecycleMetric.workerJoin.paper)
        #expect(join.speedUp == SpeedUp(factor: 240, isLowerBound: true))
        #expect(join.speedUp?.text == "≥ 240×")

        let destroy = LifecycleSummaryRow(metric: .masterDestroy, ours: Spread(min: 0.1, median: 0.2, max: 0.3), paper: LifecycleMetric.masterDestroy.paper)
        #expect(destroy.speedUp?.text == "39.5×")
        #expect(LifecycleSummaryRow(metric: .workerLeave, ours: Spread(min: 0.1, median: 0.1, max: 0.1), paper: nil).speedUp == nil)
    }

    @Test func numbersHaveNoTrailingZeros() {
        #expect(BenchReport.number(356) == "356")
        #expect(BenchReport.number(7.9) == "7.9")
        #expect(BenchReport.number(0.1234567) == "0.123457")
        #expect(BenchReport.number(0) == "0")
        #expect(BenchReport.number(-0.0000001) == "0")
        #expect(BenchReport.paperNumber(7.9) == "7.90")
        #expect(BenchReport.paperNumber(374) == "374")
    }

    @Test func lifecycleCSVHasOneLinePerRun() {
        let deployed = LifecycleRun(run: 2, masterCreate: 1, workerJoin: 2, workerLeave: 3, masterDestroy: 4, joinReported: 1.5, joinSteps: [], deployRemote: 2.25)
        let csv = BenchReport.lifecycleCSV([Self.run(1, 0.25, 0.2, 0.1, 0.125, reported: 0.15), deployed])
        #expect(csv == """
            run,master_create_s,worker_join_s,worker_leave_s,master_destroy_s,join_reported_s,deploy_remote_s
            1,0.25,0.2,0.1,0.125,0.15,
            2,1,2,3,4,1.5,2.25

            """)
        // A run without a deploy adds no sample to that metric.
        let rows = BenchReport.summarize([Self.run(1, 0.25, 0.2, 0.1, 0.125), deployed])
        #expect(rows.first { $0.metric == .deployRemote }?.ours == Spread(min: 2.25, median: 2.25, max: 2.25))
    }

    @Test func summaryCSVLeavesMissingPaperFiguresEmpty() {
        let rows = BenchReport.summarize([Self.run(1, 0.3, 0.2, 0.1, 0.12), Self.run(2, 0.5, 0.4, 0.3, 0.14)])
        #expect(BenchReport.summaryCSV(rows) == """
            metric,min,median,max,paper_min,paper_median,paper_max
            master_create,0.3,0.4,0.5,356,374,381
            worker_join,0.2,0.3,0.4,60,,240
            worker_leave,0.1,0.2,0.3,,,
            master_destroy,0.12,0.13,0.14,7.87,7.9,8.9

            """)
    }

    @Test func memoryCSVQuotesFieldsWithCommas() {
        let rows = [
            FootprintRow(kind: .memory, item: "master process (fuse master run)", pid: 42, bytes: 52_428_800),
            FootprintRow(kind: .disk, item: "fuse, wireguard-go", bytes: 1_572_864, paperMiB: 529),
        ]
        #expect(BenchReport.memoryCSV(rows) == """
            kind,item,pid,bytes,mib,paper_mib
            memory,master process (fuse master run),42,52428800,50,
            disk,"fuse, wireguard-go",,1572864,1.5,529

            """)
        #expect(BenchReport.field(#"say "hi""#) == #""say ""hi""""#)
    }

    @Test func joinStepsAreComparedWithoutTheirRunSpecificDetails() {
        #expect(BenchReport.stepKey("agent running (pid 20286)") == "agent running")
        #expect(BenchReport.stepKey("tunnel up: the master answers at 100.64.0.1") == "tunnel up: the master answers at 100.64.0.1")
        let runs = [
            Self.run(1, 1, 1, 1, 1, steps: [JoinStep(step: "pin", seconds: 0.02), JoinStep(step: "agent running (pid 1)", seconds: 0.01)]),
            Self.run(2, 1, 1, 1, 1, steps: [JoinStep(step: "pin", seconds: 0.04), JoinStep(step: "agent running (pid 2)", seconds: 0.03)]),
        ]
        let medians = BenchReport.joinStepMedians(runs)
        #expect(medians.map(\.step) == ["pin", "agent running"])
        #expect(medians.map(\.median) == [0.03, 0.02])
        #expect(BenchReport.joinStepsCSV(runs).hasPrefix("run,step,seconds\n1,pin,0.02\n1,agent running (pid 1),0.01\n"))
    }

    @Test func vmRSSIsReadFromProcStatus() {
        let status = "Name:\tfuse\nVmPeak:\t  900000 kB\nVmRSS:\t   56376 kB\nRssAnon:\t   40000 kB\n"
        #expect(BenchReport.vmRSSKiB(fromStatus: status) == 56376)
        #expect(BenchReport.vmRSSKiB(fromStatus: "Name:\tkthreadd\nState:\tS\n") == nil)
        #expect(BenchReport.vmRSSKiB(fromStatus: "VmRSS:\t12 MB\n") == nil)
    }

    @Test func footprintRowsConvertToMebibytes() {
        #expect(FootprintRow(kind: .disk, item: "x", bytes: 3_145_728).mebibytes == 3)
    }

    @Test func logAxisCoversWholeDecadesAndClamps() {
        #expect(BenchReport.logDomain([0.12, 381]) == (0.1, 1000))
        #expect(BenchReport.logDomain([1, 1]) == (1, 10))
        #expect(BenchReport.logDomain([]) == (1, 10))
        #expect(BenchReport.logDomain([0, -1, 5]) == (1, 10))
        #expect(BenchReport.logPosition(1, lo: 0.1, hi: 1000, width: 400) == 100)
        #expect(BenchReport.logPosition(1000, lo: 0.1, hi: 1000, width: 400) == 400)
        #expect(BenchReport.logPosition(0.01, lo: 0.1, hi: 1000, width: 400) == 0)
        #expect(BenchReport.logPosition(0, lo: 0.1, hi: 1000, width: 400) == 0)
        #expect(BenchReport.logPosition(1e6, lo: 0.1, hi: 1000, width: 400) == 400)
    }

    @Test func secondsLabelsKeepThreeSignificantDigits() {
        #expect(BenchReport.secondsLabel(0.2678) == "0.268 s")
        #expect(BenchReport.secondsLabel(7.9) == "7.90 s")
        #expect(BenchReport.secondsLabel(374) == "374 s")
        #expect(BenchReport.decadeLabel(0.1) == "0.1 s")
        #expect(BenchReport.decadeLabel(1000) == "1000 s")
    }

    @Test func svgHasABarPerFigureAndDecadesOnTheAxis() throws {
        let rows = BenchReport.summarize([Self.run(1, 0.3, 0.2, 0.1, 0.12), Self.run(2, 0.5, 0.4, 0.3, 0.14)])
        let svg = BenchReport.lifecycleSVG(rows, runs: 2)
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        // Background, two legend swatches, four bars of ours and three of the paper's.
        #expect(svg.components(separatedBy: "<rect ").count - 1 == 1 + 2 + 4 + 3)
        // Median ticks: four of ours, two of the paper's (none for its worker join); grid lines 0.1 … 1000 s.
        #expect(svg.components(separatedBy: "stroke-width=\"3\"").count - 1 == 6)
        for decade in ["0.1 s", "1 s", "10 s", "100 s", "1000 s"] { #expect(svg.contains(">\(decade)</text>")) }
        #expect(svg.contains("ours (2 runs)"))
        #expect(svg.contains("60–240 s, no median"))
        #expect(svg.contains("not in the paper"))
        #expect(!svg.contains("nan") && !svg.contains("inf"))
        // Well-formed: every opened element is closed or self-closing.
        let opened = svg.components(separatedBy: "<text").count - 1
        #expect(opened == svg.components(separatedBy: "</text>").count - 1)
    }

    @Test func scalePlotHasTheTwoSecondGoalLine() {
        let step = ScaleStep(nodes: 2000, joinRate: 50, joinP50: 1, joinP99: 2, joinAloneP50: 0.1, joinAloneMax: 0.2, changes: [ScaleChange(kind: .policy, seconds: [0.5, 1.5], expected: 2)],
                             hubAddPeerSeconds: nil, hubRemovePeerSeconds: nil, masterRSSBytes: 0, masterCPUJoinPercent: 0, masterCPUIdlePercent: 0,
                             masterOpenFiles: 0, databaseBytes: 0, load: 0)
        let svg = ScaleResults.propagationSVG([step], subtitle: "test")
        #expect(svg.contains(#"stroke-dasharray="6 4"/>"#))
        #expect(svg.contains("goal: p99 ≤ 2 s at 2,000 nodes (issue 14)"))
        let low = ScaleStep(nodes: 100, joinRate: 50, joinP50: 1, joinP99: 2, joinAloneP50: 0.1, joinAloneMax: 0.2, changes: [ScaleChange(kind: .policy, seconds: [0.1, 0.2], expected: 2)],
                            hubAddPeerSeconds: nil, hubRemovePeerSeconds: nil, masterRSSBytes: 0, masterCPUJoinPercent: 0, masterCPUIdlePercent: 0,
                            masterOpenFiles: 0, databaseBytes: 0, load: 0)
        #expect(ScaleResults.propagationSVG([low], subtitle: "test").contains(">2</text>"), "the axis is labelled up to the goal")
    }

    @Test func scaleCSVAndTableCarryTheQuietJoinWhenMeasured() {
        func step(quiet: Double?) -> ScaleStep {
            ScaleStep(nodes: 2000, joinRate: 50, joinP50: 1, joinP99: 2, joinAloneP50: 0.03, joinAloneMax: 0.04, joinQuietP50: quiet, changes: [],
                      hubAddPeerSeconds: nil, hubRemovePeerSeconds: nil, masterRSSBytes: 0, masterCPUJoinPercent: 0, masterCPUIdlePercent: 0,
                      masterOpenFiles: 0, databaseBytes: 0, load: 0)
        }
        let csv = ScaleResults.csv([step(quiet: 0.012), step(quiet: nil)]).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let column = csv[0].firstIndex(of: "join_quiet_p50_s")
        #expect(column == 6)
        #expect(column.map { csv[1][$0] } == "0.012" && column.map { csv[2][$0] } == "", "a value when measured, empty when not")
        #expect(csv.allSatisfy { $0.count == csv[0].count })
        #expect(ScaleResults.table([step(quiet: 0.012)]).rows[0][3] == "0.030 / 0.040 s (0.012 s)")
    }

    @Test func svgEscapesText() {
        #expect(BenchReport.escapeXML(#"a < b & "c" > d"#) == "a &lt; b &amp; &quot;c&quot; &gt; d")
    }

    @Test func joinReportDecodesFuseJoinJSON() throws {
        let output = #"{"name":"a1","domain":"companya","address":"100.64.0.2/10","interface":"bl-a1","seconds":0.164,"steps":[{"step":"master's CA matches the pin","seconds":0.019}]}"#
        let report = try JoinReport.decode(output + "\n")
        #expect(report.host == "100.64.0.2")
        #expect(report.seconds == 0.164)
        #expect(report.steps == [JoinStep(step: "master's CA matches the pin", seconds: 0.019)])
        #expect(throws: LabError.self) { try JoinReport.decode("fuse: error: no") }
    }
}
