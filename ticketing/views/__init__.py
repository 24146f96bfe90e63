"""Page views, one module per audience (STYLE.md); the online shop: `shop`, `checkout`, `lookup`."""
