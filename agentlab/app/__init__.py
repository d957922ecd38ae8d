"""The app layer: the command line (cli), the terminal chat (chat), the Gradio demo (demo), the status report
(doctor) and the main job (quickstart/). Everything below this layer is usable without it."""
