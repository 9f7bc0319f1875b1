# Loaded by `make lab`: JupyterLab saves notebooks through nbdev's cleaner (settings.ini: jupyter_hooks = True), so
# opening, running and saving a notebook leaves the sync check of `make test` green.
from nbdev.clean import clean_jupyter

c.ContentsManager.pre_save_hook = clean_jupyter
