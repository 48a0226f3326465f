"""Media values for ``log()``: Image, Audio, Video, Text, Html, Histogram, Table.

    import swanlog_core as swanlog

    swanlog.log({"samples": swanlog.Image(array, caption="epoch 3"),
                 "weights": swanlog.Histogram(layer.weight)})

A media object holds what it was given; ``log()`` checks and encodes it, stores its
payload once under the run's ``media/`` folder (content-addressed) and writes a line
describing it in the metric's file. Text and Histogram are held in the line itself.
docs/format.md ("Media") lists the fields of each kind. Images, videos, audio samples
and histograms need ``pip install 'swanlog[media]'`` (Pillow and NumPy); nothing is
imported before a media value is logged.
"""

from __future__ import annotations

from ._audio import Audio
from ._base import Media
from ._histogram import Histogram
from ._html import Html
from ._image import Image
from ._table import Table
from ._text import Text
from ._video import Video

__all__ = ["Audio", "Histogram", "Html", "Image", "Media", "Table", "Text", "Video"]
