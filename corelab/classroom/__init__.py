"""What an instructor and a student use around the lessons: ``doctor`` (is this machine ready?),
``clean`` (stop whatever the kit left running), ``hand_started`` (programs started by hand that the
kit can still find and stop) and ``labs`` (find a lab, run a student's server, check it).
Never imports a lesson.
"""
