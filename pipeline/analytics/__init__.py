"""Analytics: aggregate maths, intervals, alert rules, terms."""
