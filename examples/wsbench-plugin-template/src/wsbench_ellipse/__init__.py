"""``ellipse-fill``: a wsbench labeler that fills the ellipse inscribed in each box."""
