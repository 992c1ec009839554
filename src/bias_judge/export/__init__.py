"""The released checkpoints for llama.cpp and Ollama: GGUF files written with the `gguf`
package (`gguf_file`), an Ollama Modelfile (`modelfile`), and the export stage's folder with
its README and manifest (`export`)."""
