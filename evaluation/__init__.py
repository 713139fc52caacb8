"""`rarereads eval`: rarereads' models and the strongest simple recommenders, on equal terms.

One module per job: `protocol` (who holds out what), `metrics` (what a list is worth),
`baselines` (popularity, item-kNN, RP3beta, ALS, EASE), `models` (rarereads' own, trained
as the trainer trains them), `lists` (every reader's list through the rarity function),
`search` (choosing hyperparameters on the validation split, and remembering them),
`served` (what readers get through `Engine.recommend` and its list rules) and `cli`.
"""
