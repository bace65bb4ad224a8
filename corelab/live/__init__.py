"""What a class looks at while a run goes: ``corelab top`` in the terminal (``top``: the command;
``topstate``: what it samples; ``toptree``: the server's processes by role; ``topview``: how it is
drawn) and the live per-core heatmap in a notebook (``notebook``). Never imports a lesson.
"""
