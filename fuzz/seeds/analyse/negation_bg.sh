! git push & wait; coproc x { git push; }
