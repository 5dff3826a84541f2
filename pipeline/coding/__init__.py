"""Coding ads: the request built from the codebook (`request`), the answer read back into a
coding (`answer`), one ad (`one_ad`), several samples (`sampling`) and a whole run (`run`)."""
