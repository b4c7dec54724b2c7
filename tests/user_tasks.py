"""A user's plugin (`--plugin user_tasks`), written the way the README's extension route says: tasks
of their own that the package's normalization table does not know."""

from benchmarks.tasks import Task, register_task

register_task(
    Task("Acrobot-novel", "Acrobot-v1", obs_mask=(0, 1, 2, 3), description="Acrobot without its two velocities")
)
register_task(Task("FourRooms", "FourRooms-misc", max_episode_length=200, description="gymnax's FourRooms"))
