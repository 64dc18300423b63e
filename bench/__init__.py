"""`make bench`: the performance figures of every part of the project."""
