"""Figure writers that ``genlab demo`` runs: given trained runs, write the lecture's figures and animations
(``genlab.figures`` builds each ``Figure``; the experiments train and call these writers)."""
