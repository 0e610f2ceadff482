"""The tracking server (SPEC §5, §8): what recipients' clicks, opens and opt-outs reach.

=======  ==============================  ==============================================
method   path                            does
=======  ==============================  ==============================================
GET      ``/t/TOKEN/o.gif``              records ``open``; a 1x1 GIF, never cached
GET      ``/t/TOKEN/c/LINK``             records ``click`` (+ implied open); 302 to the
                                         URL stored for LINK in this message's activity
GET      ``/t/TOKEN/unsubscribe``        a confirmation page with a POST button
POST     ``/t/TOKEN/unsubscribe``        opts out (form or RFC 8058 one-click): record
                                         flag + suppression list; idempotent
GET      ``/t/TOKEN/view``               the email as stored by the outbox, else 404
GET      ``/s/TOKEN/LINK``               SMS short link: records ``sms_click``; 302
POST     ``/sms/status/TOKEN``           gateway delivery status (Twilio form fields or
                                         JSON ``{"status": …}``); failed → ``sms_bounce``
POST     ``/esp/events``                 ESP events (SendGrid list, Mailgun, Postmark):
                                         bounce → ``bounce``; complaint/unsubscribe →
                                         opt-out; answers a JSON summary
GET      ``/health``                     ``ok``
=======  ==============================  ==============================================

HEAD is answered wherever GET is, without recording anything (link checkers use it).
TOKEN is ``<trace id>.<HMAC>`` (:mod:`engine.tracking`): a forged, tampered or unknown
token gets the same 404 as an unknown path and the database is not written. The ESP and
SMS endpoints have no credentials of their own: they only change the trace a valid
(unguessable) token names, and only for that trace's own recipient.
"""

from .limits import Limits
from .server import TrackingServer, can_share_port
from .tracker import EspSummary, Tracker

__all__ = ["EspSummary", "Limits", "Tracker", "TrackingServer", "can_share_port"]
