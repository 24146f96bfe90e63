"""Page views, one module per audience (docs/contributing.md); the online shop: `shop`, `checkout`,
`lookup`."""
