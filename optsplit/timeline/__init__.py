"""The schedule engine shared by the scheduling formulations (multimodal, intradp, online).

A ``Timeline`` holds tasks (compute on a core or processor, transfers on a link or a pool
of resource blocks), edges (precedence and data arrival, with a lag), resources
(exclusive or of a capacity, with busy/idle power) and release times. ``validate`` checks
any method's start times and re-computes makespan, busy/idle time and energy;
``earliest`` builds the semi-active schedule of given service orders; rate profiles turn
per-slot rates into transfer and packet finish times; ``draw_gantt`` draws the result.
"""

from optsplit.timeline.earliest import CycleError, earliest, sequences
from optsplit.timeline.gantt import assign_lanes, draw_gantt
from optsplit.timeline.model import Resource, Timeline, TimelineBuilder, format_time
from optsplit.timeline.rates import RateProfile, completion_times, slotted_packet_times
from optsplit.timeline.validate import Report, Violation, start_times, validate

__all__ = [
    "CycleError",
    "RateProfile",
    "Report",
    "Resource",
    "Timeline",
    "TimelineBuilder",
    "Violation",
    "assign_lanes",
    "completion_times",
    "draw_gantt",
    "earliest",
    "format_time",
    "sequences",
    "slotted_packet_times",
    "start_times",
    "validate",
]
