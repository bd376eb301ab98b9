"""Reports: Markdown summaries of a run's metrics, synthesis and simulation JSON files."""

from hwnn.report.run_report import run_report, write_run_report

__all__ = ["run_report", "write_run_report"]
