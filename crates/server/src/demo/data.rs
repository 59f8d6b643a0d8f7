//! Word lists for the demo data: names and cities by region, jewellery interests, note templates.

/// People of one part of India: given names, family names and the cities leads from there give.
pub struct Region {
    /// Relative share of the showroom's leads.
    pub weight: u32,
    pub female: &'static [&'static str],
    pub male: &'static [&'static str],
    pub surnames: &'static [&'static str],
    /// The first city is the most common one.
    pub cities: &'static [&'static str],
}

pub const REGIONS: &[Region] = &[
    Region {
        // Maharashtra
        weight: 34,
        female: &[
            "Aarti",
            "Ashwini",
            "Gauri",
            "Madhura",
            "Manasi",
            "Mrunal",
            "Pooja",
            "Prajakta",
            "Rutuja",
            "Sayali",
            "Shravani",
            "Snehal",
            "Swati",
            "Tejaswini",
            "Vaishali",
            "Sneha",
            "Rashmi",
            "Ketaki",
            "Supriya",
            "Vrushali",
        ],
        male: &[
            "Aditya", "Amol", "Ganesh", "Mahesh", "Nikhil", "Omkar", "Prasad", "Rahul", "Sachin", "Sagar",
            "Sandeep", "Tushar", "Vinayak", "Yogesh",
        ],
        surnames: &[
            "Patil",
            "Deshmukh",
            "Kulkarni",
            "Joshi",
            "Pawar",
            "Jadhav",
            "Shinde",
            "Gaikwad",
            "Deshpande",
            "Chavan",
            "Kale",
            "More",
            "Sawant",
            "Naik",
            "Bhosale",
            "Salunkhe",
            "Kadam",
            "Apte",
            "Gokhale",
            "Phadke",
        ],
        cities: &[
            "Mumbai",
            "Thane",
            "Navi Mumbai",
            "Pune",
            "Nashik",
            "Nagpur",
            "Kalyan",
            "Vasai-Virar",
            "Aurangabad",
            "Kolhapur",
        ],
    },
    Region {
        // Gujarat
        weight: 12,
        female: &[
            "Bhavna", "Dhara", "Hetal", "Jinal", "Khushbu", "Komal", "Mansi", "Nirali", "Palak", "Riddhi",
            "Urvashi", "Foram",
        ],
        male: &[
            "Bhavesh", "Chirag", "Darshan", "Hardik", "Jignesh", "Ketan", "Mehul", "Nirav", "Paresh", "Tejas",
        ],
        surnames: &[
            "Patel", "Shah", "Mehta", "Desai", "Parikh", "Trivedi", "Bhatt", "Modi", "Gandhi", "Thakkar",
            "Vora", "Dave", "Pandya",
        ],
        cities: &["Mumbai", "Ahmedabad", "Surat", "Vadodara", "Rajkot"],
    },
    Region {
        // North
        weight: 18,
        female: &[
            "Anjali", "Deepika", "Ekta", "Garima", "Jyoti", "Kavita", "Neha", "Nidhi", "Pallavi", "Preeti",
            "Ritu", "Shalini", "Sonia", "Tanvi", "Simran", "Harpreet", "Manpreet", "Aditi",
        ],
        male: &[
            "Abhishek", "Amit", "Ankit", "Deepak", "Gaurav", "Karan", "Manish", "Mohit", "Rajesh", "Rohan",
            "Sanjay", "Vikas", "Vivek", "Gurpreet", "Harjeet",
        ],
        surnames: &[
            "Sharma",
            "Verma",
            "Gupta",
            "Agarwal",
            "Singh",
            "Chauhan",
            "Malhotra",
            "Kapoor",
            "Khanna",
            "Saxena",
            "Srivastava",
            "Mishra",
            "Tiwari",
            "Pandey",
            "Yadav",
            "Arora",
            "Bansal",
            "Sethi",
            "Gill",
            "Dhillon",
        ],
        cities: &[
            "Mumbai",
            "Delhi",
            "Gurugram",
            "Noida",
            "Lucknow",
            "Jaipur",
            "Chandigarh",
            "Kanpur",
            "Indore",
            "Ludhiana",
            "Bhopal",
        ],
    },
    Region {
        // Tamil Nadu
        weight: 7,
        female: &[
            "Anitha",
            "Deepa",
            "Kavitha",
            "Lakshmi",
            "Meenakshi",
            "Revathi",
            "Saranya",
            "Vidya",
            "Gayathri",
            "Janani",
        ],
        male: &[
            "Arun", "Balaji", "Karthik", "Murali", "Prakash", "Ramesh", "Senthil", "Vignesh", "Suresh",
        ],
        surnames: &[
            "Iyer",
            "Iyengar",
            "Subramanian",
            "Krishnan",
            "Raghavan",
            "Venkatesan",
            "Sundaram",
            "Natarajan",
            "Ramasamy",
        ],
        cities: &["Chennai", "Mumbai", "Coimbatore", "Madurai", "Tiruchirappalli"],
    },
    Region {
        // Kerala
        weight: 6,
        female: &[
            "Anjana", "Aswathy", "Athira", "Lekshmi", "Nimisha", "Reshma", "Sreeja", "Anupama",
        ],
        male: &["Abhilash", "Anoop", "Jithin", "Rajeev", "Sreejith", "Vishnu"],
        surnames: &[
            "Nair", "Menon", "Pillai", "Kurup", "Varghese", "Thomas", "Nambiar", "Panicker",
        ],
        cities: &["Kochi", "Mumbai", "Thiruvananthapuram", "Kozhikode", "Thrissur"],
    },
    Region {
        // Karnataka
        weight: 6,
        female: &[
            "Akshatha", "Bhavya", "Chaitra", "Pavithra", "Shruthi", "Spoorthi", "Ramya",
        ],
        male: &["Girish", "Manjunath", "Naveen", "Prashanth", "Santosh"],
        surnames: &["Gowda", "Hegde", "Shetty", "Rao", "Kamath", "Bhat", "Kini", "Pai"],
        cities: &["Bengaluru", "Mumbai", "Mysuru", "Mangaluru", "Hubballi"],
    },
    Region {
        // Telugu states
        weight: 7,
        female: &[
            "Sravani", "Lavanya", "Haritha", "Swapna", "Keerthi", "Sirisha", "Madhavi",
        ],
        male: &["Srinivas", "Venkat", "Ravi", "Chaitanya", "Sai Kiran", "Phani"],
        surnames: &["Reddy", "Naidu", "Rao", "Chowdary", "Varma", "Raju"],
        cities: &[
            "Hyderabad",
            "Mumbai",
            "Visakhapatnam",
            "Vijayawada",
            "Guntur",
            "Warangal",
        ],
    },
    Region {
        // East
        weight: 10,
        female: &[
            "Ananya",
            "Debjani",
            "Moumita",
            "Payel",
            "Rituparna",
            "Sohini",
            "Tanushree",
            "Sudeshna",
            "Priyanka",
        ],
        male: &[
            "Arnab",
            "Debashish",
            "Indranil",
            "Soumya",
            "Subhajit",
            "Tanmoy",
            "Biswajit",
        ],
        surnames: &[
            "Banerjee",
            "Chatterjee",
            "Mukherjee",
            "Ghosh",
            "Bose",
            "Das",
            "Sen",
            "Dutta",
            "Roy",
            "Mohanty",
            "Sahoo",
        ],
        cities: &[
            "Kolkata",
            "Mumbai",
            "Howrah",
            "Bhubaneswar",
            "Cuttack",
            "Guwahati",
            "Siliguri",
        ],
    },
];

/// What a lead asked about, with a plausible budget range in rupees and a relative frequency.
pub struct Interest {
    pub text: &'static str,
    pub weight: u32,
    pub budget: (i64, i64),
}

pub const INTERESTS: &[Interest] = &[
    Interest {
        text: "bridal necklace",
        weight: 10,
        budget: (250_000, 2_500_000),
    },
    Interest {
        text: "gold coins",
        weight: 12,
        budget: (10_000, 300_000),
    },
    Interest {
        text: "diamond ring",
        weight: 9,
        budget: (35_000, 400_000),
    },
    Interest {
        text: "temple jewellery",
        weight: 6,
        budget: (80_000, 800_000),
    },
    Interest {
        text: "kundan set",
        weight: 6,
        budget: (60_000, 600_000),
    },
    Interest {
        text: "silver anklets",
        weight: 6,
        budget: (2_000, 25_000),
    },
    Interest {
        text: "polki choker",
        weight: 3,
        budget: (150_000, 1_200_000),
    },
    Interest {
        text: "mangalsutra",
        weight: 7,
        budget: (40_000, 300_000),
    },
    Interest {
        text: "gold bangles",
        weight: 8,
        budget: (60_000, 500_000),
    },
    Interest {
        text: "diamond earrings",
        weight: 5,
        budget: (40_000, 350_000),
    },
    Interest {
        text: "solitaire engagement ring",
        weight: 4,
        budget: (150_000, 1_500_000),
    },
    Interest {
        text: "antique jhumkas",
        weight: 5,
        budget: (30_000, 200_000),
    },
    Interest {
        text: "gold chain for men",
        weight: 4,
        budget: (50_000, 400_000),
    },
    Interest {
        text: "nose pin",
        weight: 3,
        budget: (5_000, 40_000),
    },
    Interest {
        text: "baby gold bracelet",
        weight: 3,
        budget: (15_000, 80_000),
    },
    Interest {
        text: "platinum couple bands",
        weight: 3,
        budget: (60_000, 250_000),
    },
    Interest {
        text: "silver pooja items",
        weight: 3,
        budget: (5_000, 80_000),
    },
    Interest {
        text: "gold savings scheme",
        weight: 4,
        budget: (60_000, 240_000),
    },
    Interest {
        text: "old gold exchange",
        weight: 4,
        budget: (50_000, 500_000),
    },
    Interest {
        text: "daily-wear earrings",
        weight: 5,
        budget: (15_000, 80_000),
    },
];

pub const TAGS: &[&str] = &[
    "wedding-season",
    "akshaya-tritiya",
    "diwali",
    "dhanteras",
    "repeat-customer",
    "nri",
    "whatsapp-optin",
    "gold-scheme",
    "exchange-old-gold",
    "vip",
    "anniversary",
    "corporate-gifting",
];

pub const EMAIL_DOMAINS: &[(&str, u32)] = &[
    ("gmail.com", 60),
    ("yahoo.co.in", 15),
    ("outlook.com", 10),
    ("rediffmail.com", 8),
    ("hotmail.com", 7),
];

pub const WEEKDAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Note templates by disposition code; `{interest}`, `{budget}` and `{day}` are filled in.
pub fn note_templates(code: &str) -> &'static [&'static str] {
    match code {
        "interested" => &[
            "Interested in {interest}. Sent catalogue on WhatsApp.",
            "Wants designs for **{interest}** around ₹{budget}. Share catalogue by evening.",
            "Saw our {interest} post on Instagram; asked for photos with price tags.",
            "Liked the new {interest} collection. Asked about hallmarking and buy-back policy.",
        ],
        "visit_booked" => &[
            "Visit booked at Bandra showroom on {day}. Coming with family.",
            "Will come on {day} for a {interest} trial; asked about parking.",
            "Store visit on {day} evening. Keep {interest} pieces around ₹{budget} ready.",
        ],
        "callback_requested" => &[
            "Driving, asked to call back after 6 pm.",
            "In a meeting, call back tomorrow morning.",
            "Wants to discuss {interest} with family first; call back on {day}.",
            "Busy with a function at home. Call back next week.",
        ],
        "price_enquiry" => &[
            "Asked today's 22K gold rate and making charges for {interest}.",
            "Compared making charges with another store; wants best price on {interest}.",
            "Asked old gold exchange value and GST on {interest}.",
            "Wants a quote for {interest} within ₹{budget}.",
        ],
        "converted" => &[
            "Purchased {interest}. Invoice raised, delivery on {day}.",
            "Order placed for {interest}; advance paid via UPI.",
            "Bought {interest} at the showroom. **Thank-you message sent.**",
        ],
        "not_interested" => &[
            "Already bought elsewhere.",
            "Budget doesn't match right now; not interested.",
            "Was only browsing, not interested.",
        ],
        "no_answer" => &["", "Rang out, no answer.", "No answer; WhatsApp message sent."],
        "busy" => &["Call cut after two rings.", "Line busy.", ""],
        "switched_off" => &["Phone switched off.", "Not reachable."],
        "wrong_number" => &[
            "Number belongs to someone else.",
            "Wrong number; lead name not known.",
        ],
        "do_not_call" => &["Asked not to be called again. **Do not call.**"],
        "invalid_number" => &["Number does not exist (operator message)."],
        _ => &[""],
    }
}

/// Outcome tags a telecaller might add for a disposition.
pub fn outcome_tags(code: &str) -> &'static [&'static str] {
    match code {
        "interested" => &["catalogue-sent", "whatsapp", "hot-design"],
        "visit_booked" => &["visit-booked", "family-visit"],
        "callback_requested" => &["callback"],
        "price_enquiry" => &["gold-rate", "making-charges", "exchange"],
        "converted" => &["sale", "upsell"],
        "not_interested" => &["bought-elsewhere", "budget"],
        _ => &[],
    }
}

/// Follow-up notes by disposition.
pub fn follow_up_note(code: &str) -> &'static str {
    match code {
        "interested" => "Check if catalogue was received; suggest a store visit.",
        "visit_booked" => "Confirm visit time a day before.",
        "callback_requested" => "Call back as requested.",
        "price_enquiry" => "Share today's gold rate and a quote.",
        "no_answer" | "busy" | "switched_off" => "Try again.",
        _ => "Follow up.",
    }
}
