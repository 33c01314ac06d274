//! The rules over a synthetic month (November 2026 in Asia/Shanghai, with a public holiday on
//! Wednesday the 11th and a make-up working Saturday on the 21st) for a day-shift and a
//! night-shift worker, and the edges around them.

use jiff::civil::date;

use super::*;

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").expect("the bundled time zone database has Asia/Shanghai")
}

fn nov(day: i8) -> Date {
    date(2026, 11, day)
}

/// The instant of a local time in Shanghai.
fn at(day: Date, hour: i64, minute: i64) -> i64 {
    local_instant(&shanghai(), day, hour * 60 + minute).expect("a local time")
}

fn day_shift() -> Shift {
    Shift {
        start_min: 9 * 60,
        end_min: 18 * 60,
        late_grace_min: 5,
        early_grace_min: 5,
        break_min: 60,
        weekdays: MONDAY_TO_FRIDAY,
    }
}

fn night_shift() -> Shift {
    Shift {
        start_min: 22 * 60,
        end_min: 6 * 60,
        late_grace_min: 10,
        early_grace_min: 10,
        break_min: 30,
        weekdays: MONDAY_TO_FRIDAY,
    }
}

fn november_calendar() -> Calendar {
    let mut calendar = Calendar::new();
    calendar.set(nov(11), DayOverride::Holiday);
    calendar.set(nov(21), DayOverride::Workday);
    calendar
}

const POLICY: Policy = Policy { min_overtime_min: 30 };

/// Punches as a phone would make them: the work date comes from the window the instant falls in.
struct Punches {
    shift: Shift,
    list: Vec<Punch>,
}

impl Punches {
    fn new(shift: &Shift) -> Punches {
        Punches { shift: shift.clone(), list: Vec::new() }
    }

    fn punch(&mut self, kind: PunchKind, day: Date, hour: i64, minute: i64) {
        let at = at(day, hour, minute);
        let work_date = work_date_of(&shanghai(), &self.shift, at).expect("a work date");
        let seq = self.list.len() as i64 + 1;
        self.list.push(Punch { work_date, kind, at, corrected: false, seq });
    }

    fn clock_in(&mut self, day: Date, hour: i64, minute: i64) {
        self.punch(PunchKind::In, day, hour, minute);
    }

    fn clock_out(&mut self, day: Date, hour: i64, minute: i64) {
        self.punch(PunchKind::Out, day, hour, minute);
    }

    /// An administrator's correction: the work date is named, not derived.
    fn correct(&mut self, work_date: Date, kind: PunchKind, day: Date, hour: i64, minute: i64) {
        let seq = self.list.len() as i64 + 1;
        self.list.push(Punch { work_date, kind, at: at(day, hour, minute), corrected: true, seq });
    }
}

/// One line per day: what a person checking their month would read.
fn line(day: &Day) -> String {
    let mut parts = vec![match (day.working, day.calendar) {
        (true, Some(DayOverride::Workday)) => "make-up".to_owned(),
        (true, _) => "work".to_owned(),
        (false, Some(DayOverride::Holiday)) => "holiday".to_owned(),
        (false, _) => "rest".to_owned(),
    }];
    for (name, minutes) in [("late", day.late_min), ("early", day.early_min)] {
        if minutes > 0 {
            parts.push(format!("{name}={minutes}"));
        }
    }
    for (name, flag) in [("absent", day.absent), ("missing", day.missing_punch), ("on-leave", day.on_leave)] {
        if flag {
            parts.push(name.to_owned());
        }
    }
    for (name, minutes) in [("leave", day.leave_min), ("extra", day.extra_min), ("ot", day.overtime_min)] {
        if minutes > 0 {
            parts.push(format!("{name}={minutes}"));
        }
    }
    parts.join(" ")
}

fn month(shift: &Shift, punches: &[Punch], leave: &[Span], overtime: &[Span]) -> Vec<Day> {
    let person = Person { shift, punches, leave, overtime };
    let now = at(date(2026, 12, 5), 12, 0);
    evaluate(&shanghai(), &november_calendar(), POLICY, person, nov(1), nov(30), now).expect("the month")
}

fn assert_days(days: &[Day], expected: &[(i8, &str)]) {
    assert_eq!(days.len(), 30);
    for (day, (n, want)) in days.iter().zip(expected) {
        assert_eq!(day.date, nov(*n));
        assert_eq!(line(day), *want, "2026-11-{n:02}");
        assert_eq!(day.state, DayState::Closed, "2026-11-{n:02}");
    }
    assert_eq!(expected.len(), 30);
}

#[test]
fn november_2026_starts_on_a_sunday() {
    assert_eq!(nov(1).weekday(), Weekday::Sunday);
    assert_eq!(nov(21).weekday(), Weekday::Saturday);
    assert_eq!(nov(11).weekday(), Weekday::Wednesday);
}

#[test]
fn a_month_of_the_day_shift() {
    let shift = day_shift();
    let calendar = november_calendar();
    let mut p = Punches::new(&shift);
    let (mut leave, mut overtime) = (Vec::new(), Vec::new());
    for n in 1..=30 {
        let d = nov(n);
        if !calendar.is_working(&shift, d) {
            continue;
        }
        match n {
            3 => {
                p.clock_in(d, 9, 20);
                p.clock_out(d, 18, 5);
            }
            4 => {
                p.clock_in(d, 9, 5);
                p.clock_out(d, 18, 5);
            }
            5 => {
                p.clock_in(d, 8, 55);
                p.clock_out(d, 17, 30);
            }
            6 | 13 => {}
            9 => {
                overtime.push(Span::new(at(d, 18, 0), at(d, 20, 0)));
                p.clock_in(d, 8, 55);
                p.clock_out(d, 20, 0);
            }
            10 => {
                p.clock_in(d, 8, 55);
                p.clock_out(d, 19, 0);
            }
            12 => {
                p.clock_in(d, 8, 55);
                p.clock_out(d, 18, 20);
            }
            16 => p.clock_in(d, 8, 55),
            17 => {
                p.clock_in(d, 13, 10);
                p.clock_out(d, 18, 5);
            }
            18 => {
                p.clock_in(d, 8, 58);
                p.clock_out(d, 17, 0);
                p.clock_in(d, 8, 50);
                p.clock_out(d, 18, 2);
            }
            // Working until 2 a.m.: the window runs to 05:00, so it is still the 19th.
            19 => {
                p.clock_in(d, 8, 55);
                p.clock_out(nov(20), 2, 0);
            }
            20 => {
                p.clock_in(d, 8, 56);
                p.clock_out(d, 18, 1);
            }
            21 => {
                p.clock_in(d, 9, 2);
                p.clock_out(d, 18, 0);
            }
            23 => {
                p.clock_in(d, 9, 40);
                p.clock_out(d, 18, 5);
                p.correct(d, PunchKind::In, d, 8, 58);
            }
            24 => {
                p.clock_in(d, 8, 55);
                p.clock_out(d, 21, 0);
                p.correct(d, PunchKind::Out, d, 18, 30);
                p.correct(d, PunchKind::Out, d, 18, 3);
            }
            27 => {
                overtime.push(Span::new(at(d, 18, 0), at(d, 21, 0)));
                p.clock_in(d, 8, 55);
                p.clock_out(d, 18, 5);
            }
            _ => {
                p.clock_in(d, 8, 55);
                p.clock_out(d, 18, 5);
            }
        }
    }
    leave.push(Span::new(at(nov(13), 9, 0), at(nov(13), 18, 0)));
    leave.push(Span::new(at(nov(17), 9, 0), at(nov(17), 13, 0)));
    // Rest-day work: five hours less the break, all of it approved; then twenty minutes.
    overtime.push(Span::new(at(nov(28), 10, 0), at(nov(28), 16, 0)));
    p.clock_in(nov(28), 10, 0);
    p.clock_out(nov(28), 15, 0);
    p.clock_in(nov(29), 10, 0);
    p.clock_out(nov(29), 10, 20);

    let days = month(&shift, &p.list, &leave, &overtime);
    assert_days(
        &days,
        &[
            (1, "rest"),
            (2, "work"),
            (3, "work late=20"),
            (4, "work"),
            (5, "work early=30"),
            (6, "work absent"),
            (7, "rest"),
            (8, "rest"),
            (9, "work extra=120 ot=120"),
            (10, "work extra=60"),
            (11, "holiday"),
            (12, "work"),
            (13, "work on-leave leave=480"),
            (14, "rest"),
            (15, "rest"),
            (16, "work missing"),
            (17, "work late=10 leave=240"),
            (18, "work"),
            (19, "work extra=480"),
            (20, "work"),
            (21, "make-up"),
            (22, "rest"),
            (23, "work"),
            (24, "work"),
            (25, "work"),
            (26, "work"),
            (27, "work"),
            (28, "rest extra=240 ot=240"),
            (29, "rest"),
            (30, "work"),
        ],
    );
    assert_eq!(days[18].last_out, Some(at(nov(20), 2, 0)));
    assert_eq!(days[22].first_in, Some(at(nov(23), 8, 58)), "the correction replaces 09:40");
    assert_eq!(days[23].last_out, Some(at(nov(24), 18, 3)), "the latest correction wins over 21:00 and 18:30");
    assert_eq!(
        Totals::of(&days),
        Totals {
            working_days: 21,
            attended_days: 19,
            late_count: 2,
            late_min: 30,
            early_count: 1,
            early_min: 30,
            absent_days: 1,
            missing_punches: 1,
            leave_days: 1,
            leave_min: 720,
            extra_min: 900,
            overtime_min: 360,
            rest_days_worked: 1,
        }
    );
}

#[test]
fn a_month_of_the_night_shift_across_midnight() {
    let shift = night_shift();
    let calendar = november_calendar();
    let mut p = Punches::new(&shift);
    let mut overtime = Vec::new();
    for n in 1..=30 {
        let d = nov(n);
        if !calendar.is_working(&shift, d) {
            continue;
        }
        let next = d.tomorrow().expect("a next day");
        match n {
            3 => {
                p.clock_in(d, 22, 30);
                p.clock_out(next, 6, 5);
            }
            4 => {
                p.clock_in(d, 21, 50);
                p.clock_out(next, 5, 0);
            }
            9 | 19 => {}
            12 => {
                overtime.push(Span::new(at(next, 6, 0), at(next, 8, 30)));
                p.clock_in(d, 21, 50);
                p.clock_out(next, 8, 30);
            }
            16 => p.clock_in(d, 21, 50),
            // A stray clock-in at 17:50 the next day is still in the 17th's window (to 18:00).
            17 => {
                p.clock_in(next, 17, 50);
                p.clock_in(d, 21, 50);
                p.clock_out(next, 6, 5);
            }
            18 => {
                p.clock_in(d, 21, 55);
                p.clock_out(next, 6, 0);
            }
            21 => {
                p.clock_in(d, 21, 58);
                p.clock_out(next, 6, 2);
            }
            26 => {
                p.clock_in(d, 21, 50);
                p.clock_out(next, 5, 52);
            }
            _ => {
                p.clock_in(d, 21, 50);
                p.clock_out(next, 6, 5);
            }
        }
    }
    // Saturday night into Sunday, unapproved: six hours less the half-hour break.
    p.clock_in(nov(28), 22, 0);
    p.clock_out(nov(29), 4, 0);
    let leave = [Span::new(at(nov(19), 22, 0), at(nov(20), 6, 0))];

    // The punch windows: Friday's shift ends on Saturday, the 30th's on 1 December.
    let tz = shanghai();
    assert_eq!(work_date_of(&tz, &shift, at(nov(7), 6, 5)).ok(), Some(nov(6)));
    assert_eq!(work_date_of(&tz, &shift, at(nov(18), 17, 50)).ok(), Some(nov(17)));
    assert_eq!(work_date_of(&tz, &shift, at(nov(18), 18, 0)).ok(), Some(nov(18)));
    assert_eq!(work_date_of(&tz, &shift, at(date(2026, 12, 1), 6, 5)).ok(), Some(nov(30)));

    let days = month(&shift, &p.list, &leave, &overtime);
    assert_days(
        &days,
        &[
            (1, "rest"),
            (2, "work"),
            (3, "work late=30"),
            (4, "work early=60"),
            (5, "work"),
            (6, "work"),
            (7, "rest"),
            (8, "rest"),
            (9, "work absent"),
            (10, "work"),
            (11, "holiday"),
            (12, "work extra=150 ot=150"),
            (13, "work"),
            (14, "rest"),
            (15, "rest"),
            (16, "work missing"),
            (17, "work"),
            (18, "work"),
            (19, "work on-leave leave=450"),
            (20, "work"),
            (21, "make-up"),
            (22, "rest"),
            (23, "work"),
            (24, "work"),
            (25, "work"),
            (26, "work"),
            (27, "work"),
            (28, "rest extra=330"),
            (29, "rest"),
            (30, "work"),
        ],
    );
    assert_eq!(days[5].last_out, Some(at(nov(7), 6, 5)), "Friday night ends on Saturday morning");
    assert_eq!(days[20].first_in, Some(at(nov(21), 21, 58)), "the make-up Saturday's night shift");
    assert_eq!(days[29].last_out, Some(at(date(2026, 12, 1), 6, 5)));
    assert_eq!(
        Totals::of(&days),
        Totals {
            working_days: 21,
            attended_days: 19,
            late_count: 1,
            late_min: 30,
            early_count: 1,
            early_min: 60,
            absent_days: 1,
            missing_punches: 1,
            leave_days: 1,
            leave_min: 450,
            extra_min: 480,
            overtime_min: 150,
            rest_days_worked: 1,
        }
    );
}

#[test]
fn windows_tile_the_days_without_gaps() {
    let tz = shanghai();
    let shift = day_shift();
    let times = day_times(&tz, &shift, nov(10)).expect("times");
    assert_eq!(times.shift, Span::new(at(nov(10), 9, 0), at(nov(10), 18, 0)));
    assert_eq!(times.window, Span::new(at(nov(10), 5, 0), at(nov(11), 5, 0)));
    assert_eq!(work_date_of(&tz, &shift, at(nov(11), 5, 0) - 1).ok(), Some(nov(10)));
    assert_eq!(work_date_of(&tz, &shift, at(nov(11), 5, 0)).ok(), Some(nov(11)));
    // A shift that starts at 01:00 opens its window at 21:00 the evening before.
    let early = Shift { start_min: 60, end_min: 9 * 60, ..day_shift() };
    assert_eq!(work_date_of(&tz, &early, at(nov(10), 21, 30)).ok(), Some(nov(11)));
    assert_eq!(work_date_of(&tz, &early, at(nov(10), 20, 59)).ok(), Some(nov(10)));
}

#[test]
fn days_are_local_days_across_a_daylight_saving_change() {
    let tz = TimeZone::get("America/New_York").expect("New York");
    let shift = day_shift();
    // Clocks go forward at 02:00 on 8 March 2026, inside the window of the 7th (05:00 to
    // 05:00): that window is 23 hours long, the next one 24.
    let times = day_times(&tz, &shift, date(2026, 3, 7)).expect("times");
    assert_eq!(times.window.end - times.window.start, 23 * 3_600_000);
    let times = day_times(&tz, &shift, date(2026, 3, 8)).expect("times");
    assert_eq!(times.window.end - times.window.start, 24 * 3_600_000);
    assert_eq!(times.shift.end - times.shift.start, 9 * 3_600_000);
    let nine = local_instant(&tz, date(2026, 3, 9), 9 * 60).expect("09:00");
    assert_eq!(work_date_of(&tz, &shift, nine).ok(), Some(date(2026, 3, 9)));
}

#[test]
fn an_open_day_has_no_verdict_on_missing_punches_yet() {
    let shift = day_shift();
    let mut p = Punches::new(&shift);
    p.clock_in(nov(16), 9, 12);
    let person = Person { shift: &shift, punches: &p.list, leave: &[], overtime: &[] };
    let now = at(nov(16), 12, 0);
    let days = evaluate(&shanghai(), &Calendar::new(), POLICY, person, nov(16), nov(17), now).expect("days");
    assert_eq!(days[0].state, DayState::Open);
    assert_eq!((days[0].late_min, days[0].missing_punch, days[0].absent), (12, false, false));
    assert_eq!(days[1].state, DayState::Upcoming);
    assert!(!days[1].absent);
}

#[test]
fn a_clock_out_before_the_clock_in_counts_as_missing() {
    let shift = day_shift();
    let mut p = Punches::new(&shift);
    p.clock_out(nov(16), 8, 50);
    p.clock_in(nov(16), 8, 55);
    let person = Person { shift: &shift, punches: &p.list, leave: &[], overtime: &[] };
    let now = at(nov(20), 12, 0);
    let days = evaluate(&shanghai(), &Calendar::new(), POLICY, person, nov(16), nov(16), now).expect("days");
    assert_eq!((days[0].last_out, days[0].missing_punch, days[0].early_min), (None, true, 0));
}

#[test]
fn leave_is_counted_in_working_minutes_of_working_days() {
    let tz = shanghai();
    let shift = day_shift();
    let calendar = november_calendar();
    // Tuesday 09:00 to Thursday 18:00 over the Wednesday holiday: two working days.
    let span = Span::new(at(nov(10), 9, 0), at(nov(12), 18, 0));
    assert_eq!(leave_minutes(&tz, &shift, &calendar, span).ok(), Some(960));
    // A morning: four hours.
    let morning = Span::new(at(nov(10), 9, 0), at(nov(10), 13, 0));
    assert_eq!(leave_minutes(&tz, &shift, &calendar, morning).ok(), Some(240));
    // A weekend: nothing. The night shift's Friday night: 7.5 hours.
    let weekend = Span::new(at(nov(14), 0, 0), at(nov(16), 0, 0));
    assert_eq!(leave_minutes(&tz, &shift, &calendar, weekend).ok(), Some(0));
    let friday_night = Span::new(at(nov(13), 22, 0), at(nov(14), 6, 0));
    assert_eq!(leave_minutes(&tz, &night_shift(), &calendar, friday_night).ok(), Some(450));
}

#[test]
fn shifts_know_their_length_and_weekdays() {
    let night = night_shift();
    assert!(night.crosses_midnight() && !day_shift().crosses_midnight());
    assert_eq!((night.span_min(), night.work_min()), (480, 450));
    assert_eq!((day_shift().span_min(), day_shift().work_min()), (540, 480));
    assert!(night.works_on(Weekday::Friday) && !night.works_on(Weekday::Saturday));
    let mut calendar = Calendar::new();
    assert!(!calendar.is_working(&night, nov(21)));
    calendar.set(nov(21), DayOverride::Workday);
    assert!(calendar.is_working(&night, nov(21)));
}

#[test]
fn the_overtime_threshold_applies_to_worked_extra() {
    let shift = day_shift();
    let mut p = Punches::new(&shift);
    p.clock_in(nov(10), 8, 55);
    p.clock_out(nov(10), 18, 29);
    p.clock_in(nov(12), 8, 55);
    p.clock_out(nov(12), 18, 30);
    let overtime = [Span::new(at(nov(10), 18, 0), at(nov(12), 20, 0))];
    let person = Person { shift: &shift, punches: &p.list, leave: &[], overtime: &overtime };
    let now = at(nov(20), 12, 0);
    let days = evaluate(&shanghai(), &november_calendar(), POLICY, person, nov(10), nov(12), now).expect("days");
    assert_eq!((days[0].extra_min, days[0].overtime_min), (0, 0), "29 minutes are below the threshold");
    assert_eq!((days[2].extra_min, days[2].overtime_min), (30, 30));
}

#[test]
fn a_corrected_time_is_read_within_the_work_dates_window() {
    let tz = shanghai();
    let night = night_shift();
    assert_eq!(instant_in_window(&tz, &night, nov(6), 6 * 60 + 5).ok(), Some(Some(at(nov(7), 6, 5))));
    assert_eq!(instant_in_window(&tz, &night, nov(6), 21 * 60 + 50).ok(), Some(Some(at(nov(6), 21, 50))));
    assert_eq!(instant_in_window(&tz, &day_shift(), nov(6), 18 * 60 + 30).ok(), Some(Some(at(nov(6), 18, 30))));
    assert_eq!(instant_in_window(&tz, &day_shift(), nov(6), 2 * 60).ok(), Some(Some(at(nov(7), 2, 0))));
    // The window is a whole day, so every clock time is in it once: 04:30 is the next morning's.
    assert_eq!(instant_in_window(&tz, &day_shift(), nov(6), 4 * 60 + 30).ok(), Some(Some(at(nov(7), 4, 30))));
}
