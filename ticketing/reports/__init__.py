"""Sales reports for staff: figures (queries), charts, downloads (exports) and the admin page."""
