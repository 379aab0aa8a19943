"""Reports: report rows and types, text/markdown/CSV/HTML rendering, charts."""
