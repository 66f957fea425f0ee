"""CoTACS (arXiv 2405.16337): adapting a frozen CoGEX model to a task without gradient updates,
by searching for the one pseudo-program whose emulation scores best on the task's examples and
applying it, by emulation, to every new input."""
