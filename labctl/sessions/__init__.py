"""Class sessions: a scenario and a roster in, broken seats and tickets out, graded results back.

The library the CLI (``labctl session``, ``labctl ticket``) and the web interface share.
"""

from .grading import SeatGrade, grade
from .manager import CreateResult, SeatReport, SeatStatus, Sessions
from .model import SessionError
from .roster import Roster, Trainee, parse_roster
from .scenario import Scenario, load_scenario

__all__ = ["CreateResult", "Roster", "Scenario", "SeatGrade", "SeatReport", "SeatStatus", "SessionError",
           "Sessions", "Trainee", "grade", "load_scenario", "parse_roster"]
