"""The model card: rendered from the pipeline's own metrics, checked offline, published.

`render.render_cards` builds the cards, `validate.validate_card_text` checks a card's front
matter without network, `publish` uploads a merged checkpoint with its card.
"""
