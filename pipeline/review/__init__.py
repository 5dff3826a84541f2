"""Reviewing drafts: the static review site (`site`, `pages`, `index`) and accepting corrected
drafts as gold (`accept`)."""
