"""The people a node knows: its owner's profile, its peers (names, pins, notes), the role-play
personas it answers as, and the rules for names."""
