"""The judge in a web page: `bias-judge demo` (app) and the Hugging Face Space it ships as
(space renders the folder, hub runs it on the Space)."""
