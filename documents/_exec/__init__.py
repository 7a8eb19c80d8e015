"""Thin wrappers around the external programs we run (OCRmyPDF's `_exec/` style): one module per
program, so how it is found, called and how its failures read is in one place."""
