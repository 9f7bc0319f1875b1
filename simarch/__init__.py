__version__ = "0.1.0"

import os as _os
# before torch loads OpenMP: idle threads sleep instead of spinning, so a machine busy with other work does not stall
_os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
