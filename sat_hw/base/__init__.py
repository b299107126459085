"""What every other package may import, importing nothing of sat_hw: the errors and their exit
statuses (``errors``), where the shipped resources live (``resources``), the cache folder
(``cache``) and whole-or-nothing writes of files and folders with their ownership markers
(``writer``)."""
