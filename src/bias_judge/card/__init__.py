"""The model card: rendered from the pipeline's own metrics, checked offline, published.

`render.card_facts` works out every fact a card states once; `render.card_data` (the front
matter, through huggingface_hub) and the template model_card/card.md.j2 (all the wording)
both read it. `validate` checks a card through huggingface_hub's ModelCard and
schemas/card_front_matter.schema.json; `publish` uploads a merged checkpoint with its card.
"""
